"""Kubernetes Events about our objects, posted through kopf's event queue.

kopf's own `info`/`warn` follow its posting level, raised to keep per-handler chatter out of the
API server; these always post.
"""

from __future__ import annotations

import kopf

from .. import metrics


def normal(body: kopf.Body, reason: str, message: str) -> None:
    kopf.event(body, type="Normal", reason=reason, message=message)


def warning(body: kopf.Body, reason: str, message: str) -> None:
    kopf.event(body, type="Warning", reason=reason, message=message)


def drift_corrected(body: kopf.Body, message: str) -> None:
    """Every correction of a change made outside the operator: the Event users see, the metric alerts see."""
    normal(body, "DriftCorrected", message)
    metrics.drift_corrected(str(body.get("kind") or "Unknown"))
