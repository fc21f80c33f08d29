"""Ready and Synced conditions, Crossplane style, with stable lastTransitionTime."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

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
CREATE_UNCERTAIN = "CreateUncertain"
ALREADY_MANAGED = "AlreadyManaged"
CANNOT_ADOPT = "CannotAdopt"

# Synced reasons that no retry will fix: the spec, Twilio or a person must change something first.
TERMINAL_REASONS = frozenset(
    {
        INVALID_SPEC,
        FORBIDDEN,
        EXTERNAL_NOT_FOUND,
        SUBACCOUNT_CLOSED,
        CREATE_UNCERTAIN,
        ALREADY_MANAGED,
        CANNOT_ADOPT,
        "TwilioRejected",
    }
)


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


def now_rfc3339() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge(
    existing: list[dict[str, Any]] | None, updates: dict[str, Cond], generation: int
) -> list[dict[str, Any]]:
    """New condition list: lastTransitionTime changes only when a condition's status changes."""
    by_type = {c.get("type"): c for c in existing or [] if isinstance(c, dict)}
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
