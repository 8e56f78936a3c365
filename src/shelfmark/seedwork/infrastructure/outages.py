"""Telling an outage (a dependency that did not answer) from a bug.

An outage passes: the request answers 503 with Retry-After, a consumer waits and tries again.
A bug does not: the request answers 500, a consumer gives up and dead-letters the event."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

#: SQLSTATE classes of a database that is unreachable or refusing work for now: 08 connection
#: exception (lost, refused), 57 operator intervention (shutting down, starting up, cancelled).
OUTAGE_SQLSTATE_CLASSES = frozenset({"08", "57"})


def is_outage(error: BaseException) -> bool:
    """Refused, reset or timed-out connections (OSError covers TimeoutError), no free pooled
    connection in time, a database connection lost mid-call, a database shutting down or still
    starting up, or failing in operation. Anything else is a bug."""
    if isinstance(error, DBAPIError):
        sqlstate = str(getattr(error.orig, "sqlstate", None) or "")
        return (
            error.connection_invalidated
            or isinstance(error, OperationalError)
            or sqlstate[:2] in OUTAGE_SQLSTATE_CLASSES
        )
    return isinstance(error, OSError | PoolTimeout)
