"""What PostgreSQL takes differently from SQLite, so that every record round-trips alike.

- Its ``json`` type refuses NaN and ±Infinity, which Python's ``json`` writes and a task's
  outputs or an artifact's metrics can hold: on PostgreSQL such a float is written as a
  tagged object (``{"__kubeline_float__": "NaN"}``) and read back as the float.
- Its text cannot hold a NUL character, which a task's log tail (its error) or a name can:
  there a NUL is written as U+FFFD, the replacement character (SQLite keeps it).

Nothing here imports the driver: psycopg is loaded by SQLAlchemy when such a URL is opened.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from psycopg.abc import Buffer

__all__ = ["FLOAT_TAG", "SCHEMA_LOCK", "dumps_json", "keep_text_without_nul", "loads_json"]

#: The key of the object that stands for a NaN or infinite float in PostgreSQL's JSON.
FLOAT_TAG = "__kubeline_float__"
_TAG_BYTES = FLOAT_TAG.encode()
_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}

#: Advisory lock (per database) held while a store makes or migrates its tables:
#: "kubeline" in ASCII, as a 64-bit number.
SCHEMA_LOCK = int.from_bytes(b"kubeline", "big")


def dumps_json(value: Any) -> str:
    """JSON text PostgreSQL's ``json`` takes: non-finite floats tagged."""
    try:
        return json.dumps(value, allow_nan=False)
    except ValueError:  # rare: only then walk the value
        return json.dumps(_tagged(value), allow_nan=False)


def loads_json(text: str | bytes) -> Any:
    """The value :func:`dumps_json` wrote (plain JSON too)."""
    tagged = (_TAG_BYTES in text) if isinstance(text, bytes) else (FLOAT_TAG in text)
    return json.loads(text, object_hook=_untag) if tagged else json.loads(text)


def _tagged(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        name = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        return {FLOAT_TAG: name}
    if isinstance(value, dict):
        return {key: _tagged(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_tagged(item) for item in value]
    return value


def _untag(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and isinstance(obj.get(FLOAT_TAG), str) and obj[FLOAT_TAG] in _FLOATS:
        return _FLOATS[obj[FLOAT_TAG]]
    return obj


def keep_text_without_nul(dbapi_connection: Any, connection_record: Any) -> None:
    """On each new psycopg connection: strings are sent with NUL as U+FFFD (psycopg's own
    dumpers, in Python, for both formats; the text one last, so it stays the default)."""
    from psycopg.types.string import StrBinaryDumper, StrDumperUnknown

    class NulSafeBinary(StrBinaryDumper):
        def dump(self, obj: str) -> Buffer | None:
            return super().dump(obj.replace("\x00", "\ufffd"))

    class NulSafeText(StrDumperUnknown):
        def dump(self, obj: str) -> Buffer | None:
            return super().dump(obj.replace("\x00", "\ufffd"))

    dbapi_connection.adapters.register_dumper(str, NulSafeBinary)
    dbapi_connection.adapters.register_dumper(str, NulSafeText)
