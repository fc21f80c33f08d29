"""A transparent TLS proxy in front of the real kube-apiserver that adds what the Kubernetes emulator's tests
control through `/__sandbox/`: failing writes on purpose, dropping watch streams, and a request log.

kube-apiserver has no fault injection, and a fault made inside it could not be told from a real one anyway;
requests the proxy fails never reach it, so neither its audit log nor its metrics could show them. The proxy
records every request it relays or fails (the emulator's request-log shape, bodies included), so tests read
one log on both backends. Authentication and authorization stay the API server's: the client's bearer token
is passed through untouched, so RBAC decides as it would for a direct request.

Endpoints under /__sandbox/ (unauthenticated, on loopback, as the emulator's are): `requests`, `faults`
(GET, POST, DELETE; `faults/{id}` DELETE) and `gc/settle`. Everything else is relayed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from ..kube.control import Fault, FaultInjector, RequestLog, RequestRecord, fault_error
from ..kube.control_routes import ControlEndpoints
from ..kube.errors import ApiError
from ..kube.jsonutil import dumps
from ..kube.server import json_response
from .requestinfo import request_info

CONTROL = "/__sandbox/"
# Not forwarded either way: they describe one hop, not the request (RFC 9110 §7.6.1), or aiohttp sets them.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
TRUE = ("1", "true", "True")
JsonObj = dict[str, Any]


@dataclass(eq=False)
class _Stream:
    """A watch being relayed: closing its upstream response ends the client's stream cleanly."""

    path_qs: str
    upstream: aiohttp.ClientResponse


@dataclass
class FaultProxy:
    upstream: str
    upstream_ssl: ssl.SSLContext
    serving_ssl: ssl.SSLContext
    # For gc/settle only: the proxy reads Secrets and their owners as the admin.
    admin_token: str
    host: str = "127.0.0.1"
    port: int = 0
    log: RequestLog = field(default_factory=RequestLog)
    faults: FaultInjector = field(default_factory=FaultInjector)
    _streams: set[_Stream] = field(default_factory=set)
    _runner: web.AppRunner | None = None
    _session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    async def start(self) -> str:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=self.upstream_ssl, limit=0),
            # Watches stream for as long as the client keeps them; the client's own timeouts apply.
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
            auto_decompress=False,
        )
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.add_routes(
            [
                *ControlEndpoints(self.log, self.faults, self._close_fault_watches).routes(CONTROL),
                web.post(f"{CONTROL}gc/settle", self._post_settle),
                web.route("*", "/{tail:.*}", self._relay),
            ]
        )
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=self.serving_ssl)
        await site.start()
        server = site._server
        assert server is not None and isinstance(server, asyncio.base_events.Server)
        self.port = server.sockets[0].getsockname()[1]
        return self.url

    async def stop(self) -> None:
        for stream in list(self._streams):
            stream.upstream.close()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    # --- relaying ------------------------------------------------------------------------------------

    async def _relay(self, request: web.Request) -> web.StreamResponse:
        query = {key: request.query[key] for key in request.query}
        record = self.log.start(
            request.method,
            request.path,
            query,
            request.headers.get("Content-Type", ""),
            request.headers.get("User-Agent", ""),
        )
        info = request_info(request.method, request.path, query)
        if info is not None:
            record.verb, record.resource, record.namespace, record.name, record.subresource = info
        body = await request.read()
        self.log.attach_body(record, body)
        is_watch = record.verb == "watch"
        fault = self.faults.match(request.method, request.path_qs, is_watch) if self.faults.active else None
        if fault is not None:
            return await self._injected(request, record, fault)
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        try:
            upstream = await self._session.request(
                request.method, self.upstream + request.path_qs, headers=headers, data=body or None
            )
        except aiohttp.ClientError as error:
            self.log.finish(record, 502)
            return web.Response(status=502, text=f"kube-apiserver unreachable: {error}\n")
        self.log.finish(record, upstream.status)
        reply = web.StreamResponse(status=upstream.status, reason=upstream.reason)
        for name, value in upstream.headers.items():
            if name.lower() not in HOP_BY_HOP:
                reply.headers.add(name, value)
        if upstream.content_length is not None:
            reply.content_length = upstream.content_length
        stream = _Stream(request.path_qs, upstream) if is_watch else None
        if stream is not None:
            self._streams.add(stream)
        try:
            await reply.prepare(request)
            await self._pump(upstream, reply)
        finally:
            if stream is not None:
                self._streams.discard(stream)
            upstream.release()
        return reply

    @staticmethod
    async def _pump(upstream: aiohttp.ClientResponse, reply: web.StreamResponse) -> None:
        try:
            while chunk := await upstream.content.readany():
                await reply.write(chunk)
        except (aiohttp.ClientError, ConnectionResetError):
            # The upstream was closed under it (a dropped watch) or the client went away: end the stream.
            pass
        with contextlib.suppress(ConnectionResetError):
            await reply.write_eof()

    async def _injected(
        self, request: web.Request, record: RequestRecord, fault: Fault
    ) -> web.StreamResponse:
        """The emulator's answer to a fault (kube/server.py), given in place of kube-apiserver's."""
        drop = fault.drop_watch
        if drop or (record.verb == "watch" and fault.status == 410):
            # What a watch looks like when the server ends it: 200, then the stream closes (or, for 410, an
            # ERROR event first, as kube-apiserver sends when the resourceVersion is too old).
            stream = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
            self.log.finish(record, 200)
            await stream.prepare(request)
            if not drop:
                expired = ApiError(410, "injected: too old resource version", reason="Expired")
                await stream.write(dumps({"type": "ERROR", "object": expired.status()}) + b"\n")
            await stream.write_eof()
            return stream
        error = fault_error(fault)
        self.log.finish(record, error.code)
        headers = {"Retry-After": str(error.retry_after)} if error.retry_after else None
        return web.Response(
            status=error.code, body=dumps(error.status()), content_type="application/json", headers=headers
        )

    def close_watches(self, path_qs_matches: Any) -> int:
        closed = 0
        for stream in list(self._streams):
            if path_qs_matches(stream.path_qs):
                stream.upstream.close()
                closed += 1
        return closed

    # --- /__sandbox/ ------------------------------------------------------------------------------------

    def _close_fault_watches(self, fault: Fault) -> int:
        return self.close_watches(lambda path_qs: fault.targets("GET", path_qs))

    async def _post_settle(self, request: web.Request) -> web.Response:
        """Wait until no Secret names an owner that is gone: the real garbage collector cannot be asked
        whether it is done, but what the tests rely on it for (a deleted ApiKey's Secret goes) can be seen."""
        try:
            timeout = float(request.query.get("timeout") or 30)
        except ValueError:
            return json_response({"error": "timeout must be a number"}, 400)
        deadline = time.monotonic() + timeout
        while True:
            pending = await self._orphaned_secrets()
            if not pending or time.monotonic() > deadline:
                return json_response(
                    {"settled": not pending, "pending": len(pending)}, 504 if pending else 200
                )
            await asyncio.sleep(0.2)

    async def _orphaned_secrets(self) -> list[str]:
        secrets = (await self._admin_get("/api/v1/secrets"))["items"]
        owners: dict[tuple[str, str, str, str], set[str] | None] = {}
        orphaned = []
        for secret in secrets:
            meta = secret["metadata"]
            for ref in meta.get("ownerReferences") or []:
                key = (ref["apiVersion"], ref["kind"], meta["namespace"], ref["name"])
                if key not in owners:
                    owners[key] = await self._uid_of(*key)
                if owners[key] != {ref["uid"]}:
                    orphaned.append(f"{meta['namespace']}/{meta['name']}")
        return orphaned

    async def _uid_of(self, api_version: str, kind: str, namespace: str, name: str) -> set[str] | None:
        base = f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"
        # The owner's resource name, from discovery: a kind's plural is not always its name plus "s".
        listing = await self._admin_get(base, missing_ok=True)
        plurals = [
            r["name"]
            for r in (listing or {}).get("resources", [])
            if r["kind"] == kind and "/" not in r["name"]
        ]
        if not plurals:
            return None
        found = await self._admin_get(f"{base}/namespaces/{namespace}/{plurals[0]}/{name}", missing_ok=True)
        return {found["metadata"]["uid"]} if found else None

    async def _admin_get(self, path: str, *, missing_ok: bool = False) -> Any:
        assert self._session is not None
        headers = {"Authorization": f"Bearer {self.admin_token}"}
        async with self._session.get(self.upstream + path, headers=headers) as response:
            if missing_ok and response.status == 404:
                return None
            response.raise_for_status()
            return json.loads(await response.read())
