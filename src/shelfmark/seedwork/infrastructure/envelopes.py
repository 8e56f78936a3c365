"""Envelopes to and from bytes (the broker's message body) and outbox rows."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Row

from shelfmark.seedwork.messaging import Envelope


def envelope_from_row(row: Row[Any]) -> Envelope:
    return Envelope(
        event_id=row.event_id,
        event_type=row.event_type,
        aggregate_id=row.aggregate_id,
        occurred_at=row.occurred_at,
        payload=json.loads(row.payload),
        position=row.position,
    )


def encode(envelope: Envelope) -> bytes:
    return json.dumps(
        {
            "event_id": str(envelope.event_id),
            "event_type": envelope.event_type,
            "aggregate_id": str(envelope.aggregate_id),
            "occurred_at": envelope.occurred_at.isoformat(),
            "payload": envelope.payload,
            "position": envelope.position,
        },
        sort_keys=True,
    ).encode()


def decode(body: bytes) -> Envelope:
    """Raises ValueError (or KeyError/TypeError) for a body that is not an envelope."""
    data = json.loads(body)
    occurred_at = datetime.fromisoformat(data["occurred_at"])
    if occurred_at.tzinfo is None:
        raise ValueError("occurred_at has no time zone")
    return Envelope(
        event_id=UUID(data["event_id"]),
        event_type=str(data["event_type"]),
        aggregate_id=UUID(data["aggregate_id"]),
        occurred_at=occurred_at,
        payload=dict(data["payload"]),
        position=int(data["position"]),
    )
