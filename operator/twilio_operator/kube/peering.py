"""Whether kopf's peering has paused this replica, so the work the operator does outside kopf pauses too.

kopf pauses its watch streams and handlers while another replica of higher (or equal) priority is alive, but
keeps that decision to itself. The drift timer runs passes outside kopf's handlers, so it follows the same
peering objects and applies kopf's rule (kopf/_core/engines/peering.py, `process_peering_event`): this replica
stands by while any other live peer has a priority at least its own; a peer whose keep-alive lapsed is dead.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..clock import backoff, parse_time, utcnow
from .client import KubeClient, KubeError

log = logging.getLogger(__name__)

PEERING_GROUP = "kopf.dev/v1"


@dataclass(frozen=True)
class PeeringConfig:
    name: str
    identity: str
    priority: int
    # Namespaces whose KopfPeering objects this replica takes part in; empty: the ClusterKopfPeering.
    namespaces: tuple[str, ...]


def standing_by(status: Mapping[str, Any], me: PeeringConfig, now: datetime.datetime) -> float | None:
    """Seconds until the first peer that makes this replica stand by expires, or None when none does."""
    expiries = []
    for identity, record in status.items():
        if identity == me.identity or not isinstance(record, Mapping):
            continue
        seen = parse_time(record.get("lastseen")) or now
        expires = seen + datetime.timedelta(seconds=int(record.get("lifetime") or 60))
        if expires > now and int(record.get("priority") or 0) >= me.priority:
            expiries.append((expires - now).total_seconds())
    return min(expiries) if expiries else None


class PeeringGate:
    """Open while this replica leads (or runs alone); `wait_open()` holds work while it stands by."""

    def __init__(self, kube: KubeClient, config: PeeringConfig | None) -> None:
        self.kube = kube
        self.config = config
        self._open = asyncio.Event()
        self._blocked: set[str] = set()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: list[asyncio.Task[None]] = []
        if config is None:
            self._open.set()

    @property
    def is_open(self) -> bool:
        return self._open.is_set()

    async def wait_open(self) -> None:
        await self._open.wait()

    def start(self) -> None:
        if self.config is None:
            return
        scopes = self.config.namespaces or ("",)
        self._tasks = [asyncio.create_task(self._follow(scope)) for scope in scopes]

    async def stop(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _judge(self, scope: str, status: Mapping[str, Any]) -> None:
        assert self.config is not None
        timer = self._timers.pop(scope, None)
        if timer is not None:
            timer.cancel()
        wait = standing_by(status, self.config, utcnow())
        if wait is None:
            self._blocked.discard(scope)
        else:
            self._blocked.add(scope)
            # A peer that dies without a goodbye stops blocking when its keep-alive lapses: look again then.
            self._timers[scope] = asyncio.get_running_loop().call_later(
                wait + 0.5, self._judge, scope, status
            )
        was_open = self._open.is_set()
        if self._blocked:
            self._open.clear()
        else:
            self._open.set()
        if was_open != self._open.is_set():
            log.info("drift timer %s: peering", "resumed" if self._open.is_set() else "paused")

    async def _follow(self, scope: str) -> None:
        assert self.config is not None
        where = f"/namespaces/{scope}/kopfpeerings" if scope else "/clusterkopfpeerings"
        path = f"/apis/{PEERING_GROUP}{where}"
        selector = {"fieldSelector": f"metadata.name={self.config.name}"}
        attempt = 0
        while True:
            try:
                listing = await self.kube.request("GET", path, params=selector)
                items = listing.get("items") or []
                self._judge(scope, (items[0].get("status") or {}) if items else {})
                version = str((listing.get("metadata") or {}).get("resourceVersion") or "")
                attempt = 0
                params = {**selector, "resourceVersion": version, "timeoutSeconds": "300"}
                async for event in self.kube.watch(path, params):
                    obj = event.get("object") or {}
                    if event.get("type") in ("ADDED", "MODIFIED"):
                        self._judge(scope, obj.get("status") or {})
                    elif event.get("type") == "DELETED":
                        self._judge(scope, {})
            except KubeError as error:
                log.debug(
                    "following peering %s%s: %s", self.config.name, f" in {scope}" if scope else "", error
                )
                attempt += 1
                await asyncio.sleep(backoff(min(attempt, 5), 0.5, 10.0) + 0.1)
