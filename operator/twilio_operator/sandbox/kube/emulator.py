"""KubeEmulator: the Kubernetes API emulator as one object, plus its test-control endpoints."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from .api import CRDS, NAMESPACES, Api, WriteOptions
from .builtins import INITIAL_NAMESPACES, builtin_types
from .control import BearerTokens, Fault, FaultInjector, RequestLog
from .control_routes import ControlEndpoints
from .gc import GarbageCollector
from .jsonutil import clone_obj
from .resources import Registry, ResourceType
from .server import CONTROL_PREFIX, Server, json_response
from .store import Store

JsonObj = dict[str, Any]


class KubeEmulator:
    """An in-process kube-apiserver stand-in for kopf, kubectl and the kubernetes client.

    Everything runs on the event loop that called `start()`; `install_crd()` may also be called before.
    """

    def __init__(self, *, bookmark_interval: float = 5.0, event_window: int = 10000) -> None:
        self.registry = Registry()
        for rt in builtin_types():
            self.registry.add(rt)
        self.store = Store(event_window)
        self.api = Api(self.store, self.registry)
        self.gc = GarbageCollector(self.store, self.registry, self.api)
        self.requests = RequestLog()
        self.faults = FaultInjector()
        self.tokens = BearerTokens()
        self.server = Server(
            store=self.store,
            registry=self.registry,
            api=self.api,
            log=self.requests,
            faults=self.faults,
            tokens=self.tokens,
            bookmark_interval=bookmark_interval,
        )
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self._seed()

    # --- lifecycle ---------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        if self._runner is not None:
            raise RuntimeError("the emulator is already running")
        app = self.server.build_app(self._control_routes())
        runner = web.AppRunner(
            app, access_log=None, handle_signals=False, handler_cancellation=True, shutdown_timeout=2.0
        )
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0]
        actual_port = int(bound[1])
        self._runner = runner
        self._url = f"http://{host}:{actual_port}"
        self.server.server_address = f"{host}:{actual_port}"
        self.gc.start()
        return self._url

    async def stop(self) -> None:
        self.store.hub.close_where(lambda _: True)
        await self.gc.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("the emulator has not been started")
        return self._url

    # --- conveniences for in-process tests ---------------------------------------------------------

    def install_crd(self, crd: dict[str, Any]) -> None:
        """Register a CRD exactly as a POST of it would; raises ApiError when the API would refuse it."""
        self.api.create(self._type(CRDS.group, CRDS.resource), None, clone_obj(crd), WriteOptions())

    def compact(self, *, drop_watches: bool = False) -> int:
        """Forget the event history: watches resuming from any earlier resourceVersion get 410 (W4)."""
        # Bumping first makes every resourceVersion a client has already seen too old, not just most of them.
        rv = self.store.next_rv()
        self.store.log.compact(rv)
        self.api.forget_snapshots()
        if drop_watches:
            self.store.hub.close_where(lambda _: True)
        return rv

    async def settle_gc(self, limit: float = 30.0) -> bool:
        """Wait until garbage collection has no pending work (G5); False after `limit` seconds."""
        return await self.gc.settle(limit)

    def reset(self) -> None:
        """Back to a fresh cluster: default namespaces only, no CRDs, faults or logged requests."""
        self.store.hub.close_where(lambda _: True)
        for crd_name in {rt.crd_name for rt in self.registry if rt.crd_name}:
            self.registry.remove_crd(crd_name)
        self.store.clear()
        self.gc.clear()
        self.faults.clear()
        self.tokens.clear()
        self.requests.clear()
        self.api.forget_snapshots()
        self._seed()
        self.store.log.compact(self.store.next_rv())

    def _type(self, group: str, plural: str) -> ResourceType:
        for rt in self.registry:
            if rt.group == group and rt.plural == plural:
                return rt
        raise KeyError(f"{plural}.{group}")

    def _seed(self) -> None:
        namespaces = self._type(NAMESPACES.group, NAMESPACES.resource)
        for name in INITIAL_NAMESPACES:
            self.api.create(namespaces, None, {"metadata": {"name": name}}, WriteOptions())

    # --- /__sandbox/ endpoints ---------------------------------------------------------------------

    def _control_routes(self) -> list[web.RouteDef]:
        endpoints = ControlEndpoints(self.requests, self.faults, self._close_watches)
        return [
            *endpoints.routes(CONTROL_PREFIX),
            web.post(f"{CONTROL_PREFIX}compact", self._post_compact),
            web.post(f"{CONTROL_PREFIX}gc/settle", self._post_settle),
            web.get(f"{CONTROL_PREFIX}stats", self._get_stats),
            web.post(f"{CONTROL_PREFIX}reset", self._post_reset),
            web.post(f"{CONTROL_PREFIX}tokens", self._post_tokens),
        ]

    @staticmethod
    async def _json_body(request: web.Request) -> Any:
        raw = await request.read()
        if not raw.strip():
            return {}
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise web.HTTPBadRequest(
                text=json.dumps({"error": f"invalid JSON: {exc}"}), content_type="application/json"
            ) from exc

    def _close_watches(self, fault: Fault) -> int:
        return self.store.hub.close_where(lambda watcher: fault.targets("GET", watcher.path_qs))

    async def _post_compact(self, request: web.Request) -> web.Response:
        body = await self._json_body(request)
        drop = bool(body.get("drop_watches")) if isinstance(body, dict) else False
        watches = self.store.hub.count()
        rv = self.compact(drop_watches=drop)
        return json_response({"resourceVersion": str(rv), "closed_watches": watches if drop else 0})

    async def _post_settle(self, request: web.Request) -> web.Response:
        try:
            timeout = float(request.query.get("timeout") or 30)
        except ValueError:
            return json_response({"error": "timeout must be a number"}, 400)
        settled = await self.settle_gc(timeout)
        return json_response({"settled": settled, "pending": self.gc.pending}, 200 if settled else 504)

    async def _get_stats(self, request: web.Request) -> web.Response:
        log = self.requests
        return json_response(
            {
                "requests": log.next_seq - 1,
                "by_method": dict(log.by_method),
                "by_verb": dict(log.by_verb),
                "by_status": {str(code): count for code, count in log.by_status.items()},
                "by_resource": dict(log.by_resource),
                "resource_version": str(self.store.rv),
                "objects": self.store.total(),
                "watches": self.store.hub.count(),
                "gc_pending": self.gc.pending,
                "faults": len(self.faults.all()),
            }
        )

    async def _post_tokens(self, request: web.Request) -> web.Response:
        """{"accept": [...], "revoke": [...]}: bearer tokens to let in from now on, and to refuse."""
        body = await self._json_body(request)
        accept, revoke = body.get("accept") or [], body.get("revoke") or []
        if not all(isinstance(t, str) and t for t in [*accept, *revoke]):
            return json_response({"error": "tokens are non-empty strings"}, 400)
        self.tokens.change(accept, revoke)
        return json_response({"accepted": len(self.tokens.accepted), "revoked": len(self.tokens.revoked)})

    async def _post_reset(self, request: web.Request) -> web.Response:
        self.reset()
        return json_response({"resourceVersion": str(self.store.rv)})
