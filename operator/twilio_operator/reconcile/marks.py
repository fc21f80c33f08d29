"""The annotations people set on our objects, read one way everywhere, and told when they cannot be read.

A value the operator cannot read is never silently ignored: a pass reports it with a Warning Event naming the
annotation, and the object behaves as if it were not set.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..clock import parse_duration
from .model import PAUSED, POLL_INTERVAL

TRUE = frozenset({"true", "yes", "on", "1"})
FALSE = frozenset({"false", "no", "off", "0", ""})


def paused(annotations: Mapping[str, str]) -> bool:
    return annotations.get(PAUSED, "").strip().lower() in TRUE


def poll_interval(annotations: Mapping[str, str]) -> float | None:
    """Seconds between this object's drift checks, when its annotation says (else the operator's default)."""
    every = parse_duration(annotations.get(POLL_INTERVAL), plain_seconds=True)
    return every.total_seconds() if every else None


def problems(annotations: Mapping[str, str]) -> dict[str, str]:
    """Each of our annotations whose value cannot be read, with what to write instead."""
    found = {}
    flag = annotations.get(PAUSED)
    if flag is not None and flag.strip().lower() not in TRUE | FALSE:
        found[PAUSED] = f'{PAUSED} is "{flag[:40]}": write "true" or "false"; the object is not paused'
    every = annotations.get(POLL_INTERVAL)
    if every is not None and (poll_interval(annotations) or 0) <= 0:
        found[POLL_INTERVAL] = (
            f'{POLL_INTERVAL} is "{every[:40]}": write a duration such as 90s, 5m or 1h (or seconds, 300); '
            "the operator's drift interval is used"
        )
    return found
