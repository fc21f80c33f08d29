"""A kubeconfig for the emulator: plain HTTP and an empty user, which kubectl, kopf and the client accept."""

from __future__ import annotations

import yaml


def kubeconfig_yaml(server_url: str) -> str:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": "sandbox", "cluster": {"server": server_url}}],
        "users": [{"name": "sandbox", "user": {}}],
        "contexts": [
            {"name": "sandbox", "context": {"cluster": "sandbox", "user": "sandbox", "namespace": "default"}}
        ],
        "current-context": "sandbox",
    }
    return yaml.safe_dump(config, sort_keys=False)
