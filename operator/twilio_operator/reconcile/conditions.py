"""Ready and Synced conditions, Crossplane style, with stable lastTransitionTime."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..api.common import Condition
from ..clock import now_rfc3339

READY = "Ready"
SYNCED = "Synced"

# Ready reasons
AVAILABLE = "Available"
CREATING = "Creating"
DELETING = "Deleting"
UNAVAILABLE = "Unavailable"
WAITING_FOR_SUBACCOUNT = "WaitingForSubaccount"
SUBACCOUNT_SUSPENDED = "SubaccountSuspended"

# Synced reasons
RECONCILE_SUCCESS = "ReconcileSuccess"
RECONCILE_ERROR = "ReconcileError"
UNEXPECTED_RESPONSE = "UnexpectedResponse"
RECONCILE_PAUSED = "ReconcilePaused"
INVALID_SPEC = "InvalidSpec"
FORBIDDEN = "Forbidden"
EXTERNAL_NOT_FOUND = "ExternalNotFound"
SUBACCOUNT_CLOSED = "SubaccountClosed"
ALREADY_MANAGED = "AlreadyManaged"
CANNOT_ADOPT = "CannotAdopt"
SECRET_CONFLICT = "SecretConflict"
TWILIO_REJECTED = "TwilioRejected"
SUBACCOUNT_NOT_FOUND = "SubaccountNotFound"
ADOPTION_NOT_ALLOWED = "AdoptionNotAllowed"
CREDENTIALS_REJECTED = "CredentialsRejected"


@dataclass(frozen=True)
class Cond:
    status: str
    reason: str
    message: str = ""

    @classmethod
    def true(cls, reason: str, message: str = "") -> Cond:
        return cls("True", reason, message)

    @classmethod
    def false(cls, reason: str, message: str = "") -> Cond:
        return cls("False", reason, message)


def merge(existing: Sequence[Condition], updates: dict[str, Cond], generation: int) -> list[dict[str, Any]]:
    """New condition list: lastTransitionTime changes only when a condition's status changes."""
    by_type = {c.type: c.model_dump(by_alias=True) for c in existing}
    result: list[dict[str, Any]] = []
    for ctype in (READY, SYNCED):
        old = by_type.get(ctype)
        new = updates.get(ctype)
        if new is None:
            if old is not None:
                result.append(old)
            continue
        transition = (
            old["lastTransitionTime"]
            if old and old.get("status") == new.status and old.get("lastTransitionTime")
            else now_rfc3339()
        )
        result.append(
            {
                "type": ctype,
                "status": new.status,
                "reason": new.reason,
                "message": new.message,
                "lastTransitionTime": transition,
                "observedGeneration": generation,
            }
        )
    return result


def get(status: dict[str, Any] | None, ctype: str) -> dict[str, Any] | None:
    for condition in (status or {}).get("conditions") or []:
        if isinstance(condition, dict) and condition.get("type") == ctype:
            return condition
    return None


def is_true(status: dict[str, Any] | None, ctype: str) -> bool:
    condition = get(status, ctype)
    return bool(condition and condition.get("status") == "True")
