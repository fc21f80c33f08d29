"""A kubeconfig for the sandbox's API server: the emulator takes plain HTTP and an empty user, which
kubectl, kopf and the client accept; the real control plane takes its CA and a bearer token."""

from __future__ import annotations

import base64
from typing import Any

import yaml


def kubeconfig_yaml(server_url: str, *, ca_pem: bytes | None = None, token: str | None = None) -> str:
    cluster: dict[str, Any] = {"server": server_url}
    if ca_pem is not None:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    user: dict[str, Any] = {"token": token} if token is not None else {}
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": "sandbox", "cluster": cluster}],
        "users": [{"name": "sandbox", "user": user}],
        "contexts": [
            {"name": "sandbox", "context": {"cluster": "sandbox", "user": "sandbox", "namespace": "default"}}
        ],
        "current-context": "sandbox",
    }
    return yaml.safe_dump(config, sort_keys=False)
