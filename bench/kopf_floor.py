"""The least a kopf operator can do for a managed object: mark it Ready in one status write.

`make bench` runs this beside the operator, on the same objects, against the same emulators, so the operator's
time to all Ready is reported as a ratio to what kopf itself costs on this machine (`ratio_to_kopf_floor`).
Run as `python bench/kopf_floor.py` with KUBECONFIG set.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf

from twilio_operator.api.kinds import KINDS
from twilio_operator.clock import now_rfc3339


def register(registry: kopf.OperatorRegistry) -> None:
    async def ready(patch: kopf.Patch, body: kopf.Body, **_: Any) -> None:
        generation = body.metadata.get("generation")
        now = now_rfc3339()
        patch.status["conditions"] = [
            {"type": kind, "status": "True", "reason": reason, "lastTransitionTime": now}
            for kind, reason in (("Ready", "Available"), ("Synced", "ReconcileSuccess"))
        ]
        patch.status["observedGeneration"] = generation

    # A registry of its own has none of kopf's default login handlers: log in from KUBECONFIG as kopf does.
    @kopf.on.login(id="login", registry=registry)
    def login(settings: kopf.OperatorSettings, **_: Any) -> kopf.ConnectionInfo | None:
        return kopf.login_with_kubeconfig(settings=settings)

    for kind in KINDS:
        for cause in (kopf.on.create, kopf.on.resume):
            cause(kind.group, kind.version, kind.plural, id="ready", registry=registry)(ready)


def settings() -> kopf.OperatorSettings:
    config = kopf.OperatorSettings()
    config.posting.level = logging.WARNING
    # kopf's record of the handled spec goes with the status write: one request per object.
    config.persistence.diffbase_storage = kopf.StatusDiffBaseStorage(field="status.lastHandledConfiguration")
    config.persistence.progress_storage = kopf.AnnotationsProgressStorage()
    return config


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    registry = kopf.OperatorRegistry()
    register(registry)
    asyncio.run(kopf.operator(registry=registry, settings=settings(), clusterwide=True, standalone=True))


if __name__ == "__main__":
    main()
