"""Every kind the operator runs, one entry each (the entries live beside their reconcile code).

Adding a kind: its API model and `Kind` in api/, its external client in twilio/, a reconcile module here with
its `ENTRY`, and one line below; then `make generate` writes its CRD, the chart's RBAC and CRD list, and the
Argo CD health check.
"""

from __future__ import annotations

from typing import Any

from . import apikey, eventstream, messagingservice, phonenumber, subaccount
from .entry import KindEntry
from .indexes import Followed

REGISTRY: tuple[KindEntry[Any, Any, Any], ...] = (
    subaccount.ENTRY,
    apikey.ENTRY,
    messagingservice.ENTRY,
    eventstream.ENTRY,
    phonenumber.ENTRY,
)


def followed() -> list[Followed[Any]]:
    """The resources whose objects some kind refers to by name, each once, in registry order."""
    targets: dict[tuple[str, str], Followed[Any]] = {}
    for entry in REGISTRY:
        for reference in entry.references:
            target = reference.target
            targets.setdefault((target.group, target.plural), target)
    return list(targets.values())
