"""Webhook URLs from the spec, literal or resolved from an Ingress, as every kind with webhooks needs them.

The Ingresses are followed (a change to one wakes the objects whose webhooks name it), so a URL stays in step
with its Ingress; an Ingress problem is the object's condition.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..api.webhooks import IngressRef
from ..kube import events
from ..kube.ingress import IngressProblem, IngressView, resolve
from ..kube.ingress import view as ingress_view
from . import conditions as c
from .indexes import Directory, Followed
from .model import Outcome, Resource

INGRESSES = Followed("networking.k8s.io", "v1", "ingresses", ingress_view)


def resolve_url(
    ingresses: Directory[IngressView], namespace: str, url: str | None, ref: IngressRef | None
) -> tuple[str, str | None]:
    """The URL a webhook declares (from its Ingress when it names one) and, when it is not HTTPS, why not."""
    if ref is None:
        text = url or ""
        return text, ("the spec gives an http:// URL" if text.startswith("http://") else None)
    try:
        resolved = resolve(ingresses.get(namespace, ref.name), ref.name, ref.path, ref.host)
    except IngressProblem as problem:
        raise Outcome(
            problem.message,
            ready=c.Cond.false(problem.reason, problem.message),
            synced=c.Cond.false(problem.reason, problem.message),
        ) from None
    return resolved.url, (None if resolved.secure else f"Ingress {ref.name} has no TLS for its host")


def warn_insecure(resource: Resource[Any, Any], insecure: dict[str, str], shown: Iterable[str]) -> None:
    """A Warning Event for each URL that is not HTTPS, once: those already shown in status were told."""
    previous = set(shown)
    for url, why in insecure.items():
        if url not in previous:
            events.warning(
                resource.body,
                "InsecureWebhook",
                f"{url} is not HTTPS ({why}): Twilio would send message data unencrypted",
            )
