"""List and watch namespaced Kubernetes objects, keeping an up-to-date map of them.

Built on the operator's ``KubeClient`` (its credentials, renewed on a 401, and its watch requests). A watch
that ends is resumed from the last resourceVersion; ``410 Gone`` or any error re-lists after a short,
growing pause, so a restarted API server or a dropped stream heals without a restart.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from ..kube.client import KubeClient, KubeError

log = logging.getLogger(__name__)
WATCH_SECONDS = 290
MAX_PAUSE = 30.0


Objects = dict[str, dict[str, Any]]


class Watch:
    """Keeps ``objects`` (by name) in step with the API server; calls ``changed`` after each change."""

    def __init__(
        self,
        kube: KubeClient,
        path: str,
        changed: Callable[[Objects], None],
        label_selector: str | None = None,
    ) -> None:
        self.kube = kube
        self.path = path
        self.changed = changed
        self.params = {"labelSelector": label_selector} if label_selector else {}
        self.objects: Objects = {}
        self.synced = asyncio.Event()

    async def run(self) -> None:
        pause = 1.0
        while True:
            try:
                version = await self.list()
                pause = 1.0
                await self._watch(version)
            except KubeError as error:
                log.warning("watching %s: %s; listing again in %.0fs", self.path, error, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, MAX_PAUSE)

    async def list(self) -> str:
        """List the objects once (``objects`` and ``changed`` follow); return the list's resourceVersion."""
        body = await self.kube.request("GET", self.path, params=self.params)
        self.objects = {item["metadata"]["name"]: item for item in body.get("items") or []}
        self.changed(self.objects)
        self.synced.set()
        return str(body.get("metadata", {}).get("resourceVersion", ""))

    async def _watch(self, version: str) -> None:
        while True:
            params = {**self.params, "resourceVersion": version, "timeoutSeconds": str(WATCH_SECONDS)}
            params["allowWatchBookmarks"] = "true"
            async for event in self.kube.watch(self.path, params):
                kind, obj = event.get("type"), event.get("object") or {}
                if kind == "ERROR":
                    # Usually 410 Gone: the version is too old to resume from.
                    raise KubeError(
                        int(obj.get("code") or 0), str(obj.get("reason")), str(obj.get("message"))
                    )
                version = str(obj.get("metadata", {}).get("resourceVersion") or version)
                if kind == "BOOKMARK":
                    continue
                name = obj.get("metadata", {}).get("name")
                if not name:
                    continue
                if kind == "DELETED":
                    self.objects.pop(name, None)
                else:
                    self.objects[name] = obj
                self.changed(self.objects)
