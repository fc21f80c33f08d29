"""Secrets the operator owns: written with an ownerReference, never overwriting a Secret it doesn't own."""

from __future__ import annotations

import base64
from typing import Any

import kopf

from .client import ConflictError, KubeClient, resource_path

MANAGED_BY = "app.kubernetes.io/managed-by"
OPERATOR = "twilio-operator"


class SecretConflict(Exception):
    """A Secret of that name exists and is not ours: it is never overwritten."""


def secret_path(namespace: str, name: str | None = None) -> str:
    return resource_path("v1", "secrets", namespace, name)


def decode(secret: dict[str, Any]) -> dict[str, str]:
    data = secret.get("data") or {}
    return {key: base64.b64decode(value).decode() for key, value in data.items()}


def owned_by(secret: dict[str, Any], owner_uid: str) -> bool:
    refs = secret.get("metadata", {}).get("ownerReferences") or []
    return any(ref.get("uid") == owner_uid for ref in refs)


async def read_owned(kube: KubeClient, namespace: str, name: str, owner: kopf.Body) -> dict[str, Any] | None:
    """The Secret if it exists and is ours; None if absent; SecretConflict if someone else's."""
    secret = await kube.get(secret_path(namespace, name))
    if secret is None:
        return None
    if not owned_by(secret, str(owner.metadata.uid)):
        raise SecretConflict(f"Secret {name} exists and is not owned by this resource; it is left untouched")
    return secret


async def write_owned(
    kube: KubeClient,
    namespace: str,
    name: str,
    data: dict[str, str],
    owner: kopf.Body,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    absent: bool = False,
) -> None:
    """Create or update the Secret with exactly these keys, owned by `owner` (garbage-collected with it)."""
    encoded = {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}
    all_labels = {MANAGED_BY: OPERATOR, **(labels or {})}
    # A Secret read as absent moments ago is created straight away; a 409 means it appeared since.
    existing = None if absent else await kube.get(secret_path(namespace, name))
    if existing is None:
        body: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": all_labels,
                "annotations": annotations or {},
            },
            "data": encoded,
        }
        # Only the ownerReference: copying the owner's labels would copy GitOps tracking labels too.
        kopf.append_owner_reference(body, owner=owner)
        try:
            await kube.create(secret_path(namespace), body)
            return
        except ConflictError:
            existing = await kube.get(secret_path(namespace, name))
            if existing is None:
                raise
    if not owned_by(existing, str(owner.metadata.uid)):
        raise SecretConflict(f"Secret {name} exists and is not owned by this resource; it is left untouched")
    meta = existing.get("metadata") or {}
    unchanged = (
        existing.get("data") == encoded
        and all((meta.get("labels") or {}).get(k) == v for k, v in all_labels.items())
        and all((meta.get("annotations") or {}).get(k) == v for k, v in (annotations or {}).items())
    )
    if unchanged:
        return
    stale = {key: None for key in existing.get("data") or {} if key not in encoded}
    await kube.merge_patch(
        secret_path(namespace, name),
        {"metadata": {"labels": all_labels, "annotations": annotations or {}}, "data": {**stale, **encoded}},
    )
