"""Manifest timestamps (`metadata.created_at`): read as RFC 3339, written in UTC ending in `Z`.

A manifest may carry any RFC 3339 offset (`2025-10-22T12:00:00+02:00`, as the upstream SDK's schema
allows); the SDK always writes the same instant in UTC (`2025-10-22T10:00:00Z`), so manifests it
writes compare and sort as text. Parsed with `strptime` rather than `datetime.fromisoformat`, which
only learned `Z` and fractions of any length in Python 3.11.
"""

from __future__ import annotations

from datetime import datetime, timezone

from remotemedia.core.exceptions import ConfigurationError


def parse_timestamp(text: str) -> datetime:
    """An RFC 3339 date-time as the manifest schema admits it (`YYYY-MM-DDTHH:MM:SS[.fraction]`
    then `Z` or `±HH:MM`), as an aware datetime; digits beyond microseconds are dropped."""
    whole, dot, rest = text.partition(".")
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{whole}.{rest[:min(digits, 6)]}{rest[digits:]}"
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z" if dot else "%Y-%m-%dT%H:%M:%S%z")
    except ValueError as exc:
        raise ConfigurationError(f"timestamp {text!r} is not an RFC 3339 date-time: {exc}") from exc


def utc_timestamp(moment: datetime | str | None = None) -> str:
    """`moment` (default: now; a string is parsed as RFC 3339) in UTC, `YYYY-MM-DDTHH:MM:SS[.ffffff]Z`.

    A naive datetime is refused, since which instant it means is unknown."""
    if isinstance(moment, str):
        moment = parse_timestamp(moment)
    if moment is None:
        moment = datetime.now(timezone.utc).replace(microsecond=0)
    elif moment.tzinfo is None or moment.utcoffset() is None:
        raise ConfigurationError(f"created_at {moment.isoformat()} has no time zone; give an aware datetime")
    utc = moment.astimezone(timezone.utc)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond:06d}".rstrip("0")
    return text + "Z"
