"""A seal on the operator's record that it created a Twilio object, which a person cannot forge.

Annotations can be written by anyone who may edit the object, so `external-create-succeeded` alone would let a
user pass an existing Twilio object off as one this object created (and so adopt it without the privilege).
Its value carries an HMAC of the object's uid, the SID and the time, keyed by a key derived from the
operator's parent auth token, which no tenant has.
"""

from __future__ import annotations

import hashlib
import hmac

SEPARATOR = ";"


def _key(token: str) -> bytes:
    # A key of its own, so the MAC says nothing usable about the token itself.
    return hmac.new(token.encode(), b"twilio-operator create record", hashlib.sha256).digest()


def _mac(token: str, uid: str, sid: str, when: str) -> str:
    return hmac.new(_key(token), f"{uid}\n{sid}\n{when}".encode(), hashlib.sha256).hexdigest()[:32]


def seal(token: str, uid: str, sid: str, when: str) -> str:
    """The annotation's value: the time of the create, and the seal."""
    return f"{when}{SEPARATOR}{_mac(token, uid, sid, when)}"


def when(value: str | None) -> str | None:
    """The time part of the annotation's value (older versions wrote the time alone)."""
    return value.split(SEPARATOR, 1)[0] if value else None


def sealed(token: str, uid: str, sid: str, value: str | None) -> bool:
    """Whether the annotation was written by the operator for this object and this SID."""
    if not value or SEPARATOR not in value:
        return False
    moment, mac = value.split(SEPARATOR, 1)
    return hmac.compare_digest(mac, _mac(token, uid, sid, moment))
