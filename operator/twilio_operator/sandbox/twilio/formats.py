"""Wire formats: SIDs, secrets and the two date formats Twilio mixes."""

from __future__ import annotations

import random
import re
import string
from datetime import UTC, datetime

SID_PREFIXES = ("AC", "SK", "MG", "PN", "SC", "AI", "SM", "DG", "DF")
SID_RE = re.compile(r"^(AC|SK|MG|PN|SC|AI|SM|DG|DF)[0-9a-f]{32}$")
E164_RE = re.compile(r"^\+[1-9][0-9]{1,14}$")
SHORT_CODE_RE = re.compile(r"^[0-9]{3,8}$")

_SECRET_ALPHABET = string.ascii_letters + string.digits


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def rfc2822(moment: datetime) -> str:
    """2010 API and IAM v1 date format, e.g. ``Thu, 30 Jul 2015 20:00:00 +0000``."""
    # Built by hand: strftime's %a/%b follow the process locale, Twilio's names are always English.
    day = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[moment.weekday()]
    month = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")[
        moment.month - 1
    ]
    return f"{day}, {moment.day:02d} {month} {moment.year:04d} {moment:%H:%M:%S} +0000"


def iso8601(moment: datetime) -> str:
    """Messaging v1 date format, e.g. ``2015-07-30T20:12:31Z``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class IdFactory:
    """Deterministic SIDs and secrets: the same seed and the same sequence of calls give the same values."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        # Secrets come from a stream of their own: drawn from the SIDs' stream, a token of one run would be
        # the hex of a SID in another run with the same seed that made its calls in another order.
        self._secrets = random.Random(f"{seed}:secrets")

    def sid(self, prefix: str) -> str:
        return f"{prefix}{self._rng.getrandbits(128):032x}"

    def auth_token(self) -> str:
        return f"{self._secrets.getrandbits(128):032x}"

    def secret(self) -> str:
        return "".join(self._secrets.choice(_SECRET_ALPHABET) for _ in range(32))
