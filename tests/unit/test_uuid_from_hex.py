"""The embedded dialect's reading of stored UUIDs: the same UUID `uuid.UUID` would make."""

from __future__ import annotations

import pickle
import uuid

import pytest
from sqlalchemy import Uuid

from shelfmark.seedwork.infrastructure.inline_sqlite import InlineSQLiteDialect, uuid_from_hex


@pytest.mark.parametrize("stored", [uuid.uuid4() for _ in range(20)] + [uuid.UUID(int=0)])
def test_a_stored_uuid_reads_back_as_the_same_uuid(stored: uuid.UUID) -> None:
    read = uuid_from_hex(stored.hex)
    assert isinstance(read, uuid.UUID)
    assert (read, hash(read), str(read), repr(read)) == (
        stored,
        hash(stored),
        str(stored),
        repr(stored),
    )
    assert read.version == stored.version and read.is_safe is uuid.SafeUUID.unknown
    assert pickle.loads(pickle.dumps(read)) == stored
    assert uuid_from_hex(stored.hex.upper()) == stored


def test_other_spellings_go_through_uuid_itself() -> None:
    dashed = "12345678-1234-5678-1234-567812345678"
    assert uuid_from_hex(dashed) == uuid.UUID(dashed)
    assert uuid_from_hex(None) is None


@pytest.mark.parametrize(
    "stored",
    ["-" + "f" * 31, "+" + "f" * 31, "_" * 32, " " + "a" * 31, "g" * 32, "a" * 31, "a" * 33],
)
def test_any_other_text_reads_as_uuid_itself_reads_it(stored: str) -> None:
    try:
        expected: uuid.UUID | type[ValueError] = uuid.UUID(stored)
    except ValueError:
        expected = ValueError
    if expected is ValueError:
        with pytest.raises(ValueError, match=r"hexadecimal UUID string|invalid literal"):
            uuid_from_hex(stored)
    else:
        assert uuid_from_hex(stored) == expected


def test_the_embedded_dialect_reads_uuid_columns_this_way() -> None:
    dialect = InlineSQLiteDialect()
    reader = dialect.type_descriptor(Uuid()).result_processor(dialect, None)
    assert reader is uuid_from_hex
