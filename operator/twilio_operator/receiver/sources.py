"""The receiver's view of its namespace: credentials Secrets, TwilioSubaccounts and MessagingServices."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ..kube.client import KubeClient, resource_path
from ..kube.secrets import decode
from .directory import Directory
from .kubewatch import Objects, Watch
from .tasks import cancel

log = logging.getLogger(__name__)
GROUP_VERSION = "twilio.operator.dev/v1alpha1"
# The operator labels the Secret it writes for spec.credentialsSecretRef with the subaccount's name.
SUBACCOUNT_LABEL = "twilio.operator.dev/subaccount"


def _sid_names(objects: Objects) -> dict[str, str]:
    names = {}
    for name, obj in objects.items():
        sid = (obj.get("status") or {}).get("sid")
        if isinstance(sid, str) and sid:
            names[sid] = name
    return names


class NamespaceSources:
    """Three watches feeding a ``Directory``; each heals on its own when the API server comes back."""

    def __init__(self, kube: KubeClient, namespace: str, directory: Directory) -> None:
        self.directory = directory
        self.watches = [
            Watch(
                kube,
                resource_path("v1", "secrets", namespace),
                self._secrets,
                label_selector=SUBACCOUNT_LABEL,
            ),
            Watch(kube, resource_path(GROUP_VERSION, "twiliosubaccounts", namespace), self._subaccounts),
            Watch(kube, resource_path(GROUP_VERSION, "messagingservices", namespace), self._services),
        ]
        self._tasks: list[asyncio.Task[None]] = []

    def _secrets(self, objects: Objects) -> None:
        entries = []
        for secret in objects.values():
            try:
                data = decode(secret)
            except (ValueError, UnicodeDecodeError):
                continue
            sid, token = data.get("TWILIO_ACCOUNT_SID", "").strip(), data.get("TWILIO_AUTH_TOKEN", "").strip()
            labels: dict[str, Any] = secret.get("metadata", {}).get("labels") or {}
            if sid and token:
                entries.append((sid, token, labels.get(SUBACCOUNT_LABEL)))
        self.directory.replace_credentials(entries)
        log.debug("credentials of %d accounts", len(entries))

    def _subaccounts(self, objects: Objects) -> None:
        self.directory.replace_subaccounts(_sid_names(objects))

    def _services(self, objects: Objects) -> None:
        self.directory.replace_services(_sid_names(objects))

    def start(self) -> None:
        self._tasks = [asyncio.create_task(watch.run(), name=f"watch {watch.path}") for watch in self.watches]

    async def list_once(self) -> None:
        """Fill the directory from one listing of each kind, without watching (a one-off command);
        raises KubeError when the API server refuses."""
        await asyncio.gather(*(watch.list() for watch in self.watches))

    def credentials_loaded(self) -> bool:
        return self.watches[0].synced.is_set()

    async def wait_synced(self) -> None:
        await asyncio.gather(*(w.synced.wait() for w in self.watches))

    async def stop(self) -> None:
        await cancel(*self._tasks)
        self._tasks = []
