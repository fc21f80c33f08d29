"""Time as the operator writes and reads it: RFC 3339 in UTC, and durations as people write them.

One grammar for durations everywhere (spec fields and annotations): Go-style parts with units s, m, h and d,
such as 90s, 15m, 12h, 30d or 1h30m; an annotation may also be plain seconds (300).
"""

from __future__ import annotations

import datetime
import random
import re

_PART = re.compile(r"(\d+)([smhd])")
_DURATION = re.compile(r"^(\d+[smhd])+$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def rfc3339(moment: datetime.datetime) -> str:
    """Second precision, as Kubernetes writes times (metav1.Time)."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_rfc3339() -> str:
    return rfc3339(utcnow())


def parse_time(value: object) -> datetime.datetime | None:
    """A time the operator wrote (or a person edited); None when absent or unreadable."""
    if not value or not isinstance(value, str):
        return None
    try:
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def parse_duration(text: str | None, *, plain_seconds: bool = False) -> datetime.timedelta | None:
    """90s, 15m, 12h, 30d, 1h30m (and, with `plain_seconds`, 300); None when it is not a duration."""
    if not text:
        return None
    value = text.strip()
    if plain_seconds and value.isdigit():
        return datetime.timedelta(seconds=int(value))
    if not _DURATION.match(value):
        return None
    return datetime.timedelta(seconds=sum(int(n) * _SECONDS[u] for n, u in _PART.findall(value)))


def backoff(attempt: int, base: float, cap: float) -> float:
    """Full-jitter exponential backoff: spreads retries so a burst of 429s doesn't return as a burst."""
    return float(random.uniform(0, min(cap, base * 2**attempt)))
