"""Kubernetes Events about our objects, posted through kopf's event queue, and the log lines about them.

kopf's own `info`/`warn` follow its posting level, raised to keep per-handler chatter out of the API server;
these always post. Every Event is also a log line naming its object, so the log says what the operator did
(and to what) in the same words `kubectl get events` does.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import kopf

from .. import metrics

log = logging.getLogger("twilio_operator")


def object_log(body: Mapping[str, Any]) -> logging.LoggerAdapter[logging.Logger]:
    """A logger whose lines name the object: "[namespace/name] ..." in text, an "object" field in JSON (the
    formatter kopf was configured with reads the same reference kopf's own object loggers carry)."""
    meta = body.get("metadata") or {}
    ref = {
        "apiVersion": body.get("apiVersion"),
        "kind": body.get("kind"),
        "name": meta.get("name"),
        "uid": meta.get("uid"),
        "namespace": meta.get("namespace"),
    }
    return logging.LoggerAdapter(log, {"k8s_ref": ref, "k8s_skip": True})


def normal(body: kopf.Body, reason: str, message: str) -> None:
    kopf.event(body, type="Normal", reason=reason, message=message)
    object_log(body).info("%s: %s", reason, message)


def warning(body: kopf.Body, reason: str, message: str, *, quiet: bool = False) -> None:
    """A Warning Event, and its log line unless `quiet` (its cause logs it once for every object)."""
    kopf.event(body, type="Warning", reason=reason, message=message)
    if not quiet:
        object_log(body).warning("%s: %s", reason, message)


def drift_corrected(body: kopf.Body, message: str) -> None:
    """Every correction of a change made outside the operator: the Event users see, the metric alerts see."""
    normal(body, "DriftCorrected", message)
    metrics.drift_corrected(str(body.get("kind") or "Unknown"))
