"""HTTP front end: routing of Kubernetes API paths, request decoding, responses and watch streams."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from . import discovery
from .api import Api, DeleteOptions, Result, WriteOptions, field_value, parse_body
from .control import BearerTokens, FaultInjector, RequestLog, RequestRecord, fault_error
from .errors import ApiError, bad_request, expired, field_invalid, invalid, method_not_allowed
from .jsonutil import dumps
from .openapi import OpenAPIDocuments
from .resources import Registry, ResourceType
from .selectors import FieldSelector
from .store import Store
from .table import as_table, requested_table
from .watch import Watcher

JsonObj = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

logger = logging.getLogger(__name__)

CONTROL_PREFIX = "/__sandbox/"
RECORD_KEY = web.RequestKey("record", RequestRecord)
MAX_BODY = 3 * 1024 * 1024
_SUBRESOURCES = ("status",)
_NAMESPACE_SUBRESOURCES = ("status", "finalize")
_TRUE = ("true", "1")


def json_response(body: Any, status: int = 200, warnings: list[str] | None = None) -> web.Response:
    response = web.Response(body=dumps(body), status=status, content_type="application/json")
    for warning in warnings or []:
        escaped = warning.replace("\\", "\\\\").replace('"', '\\"')
        response.headers.add("Warning", f'299 - "{escaped}"')
    return response


def error_response(error: ApiError) -> web.Response:
    response = json_response(error.status(), error.code)
    if error.retry_after is not None:
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def _result(result: Result) -> web.Response:
    return json_response(result.body, result.code, result.warnings)


@dataclass
class Target:
    """A routed resource request."""

    rt: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None
    watch_path: bool


class Server:
    def __init__(
        self,
        *,
        store: Store,
        registry: Registry,
        api: Api,
        log: RequestLog,
        faults: FaultInjector,
        tokens: BearerTokens,
        bookmark_interval: float,
    ) -> None:
        self.store = store
        self.registry = registry
        self.api = api
        self.log = log
        self.faults = faults
        self.tokens = tokens
        self.bookmark_interval = bookmark_interval
        self.openapi = OpenAPIDocuments(registry)
        self.server_address = "127.0.0.1:0"

    def build_app(self, control_routes: list[web.RouteDef]) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=MAX_BODY)
        app.add_routes(control_routes)
        app.router.add_route("*", "/{tail:.*}", self.dispatch)
        return app

    # --- middleware --------------------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(CONTROL_PREFIX):
            return await handler(request)
        record = self.log.start(
            request.method,
            request.path,
            {key: request.query[key] for key in request.query},
            request.headers.get("Content-Type", ""),
            request.headers.get("User-Agent", ""),
        )
        request[RECORD_KEY] = record
        try:
            try:
                raw = await request.read()
            except web.HTTPRequestEntityTooLarge as exc:
                raise ApiError(413, f"Request entity too large: limit is {MAX_BODY}") from exc
            self.log.attach_body(record, raw)
            if not self.tokens.admits(request.headers.get("Authorization")):
                raise ApiError(401, "Unauthorized")
            response: web.StreamResponse | None = None
            if self.faults.active:
                response = await self._inject(request, record)
            if response is None:
                response = await handler(request)
        except ApiError as exc:
            response = error_response(exc)
        except web.HTTPException as exc:
            response = error_response(ApiError(exc.status, exc.reason))
        except (ConnectionResetError, asyncio.CancelledError):
            raise
        except Exception:  # the API must answer every request with a Status, even when a handler has a bug
            logger.exception("unhandled error serving %s %s", request.method, request.path_qs)
            response = error_response(ApiError(500, "internal error in the Kubernetes API emulator"))
        self.log.finish(record, response.status)
        return response

    async def _inject(self, request: web.Request, record: RequestRecord) -> web.StreamResponse | None:
        is_watch = request.method == "GET" and (
            request.query.get("watch") in _TRUE or "/watch/" in request.path
        )
        fault = self.faults.match(request.method, request.path_qs, is_watch)
        if fault is None:
            return None
        if fault.drop_watch or (is_watch and fault.status == 410):
            stream = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
            self.log.finish(record, 200)
            await stream.prepare(request)
            if not fault.drop_watch:
                await stream.write(
                    dumps({"type": "ERROR", "object": expired("injected: too old resource version").status()})
                    + b"\n"
                )
            await stream.write_eof()
            return stream
        raise fault_error(fault)

    # --- routing -----------------------------------------------------------------------------------

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        segments = [s for s in request.path.split("/") if s]
        if not segments:
            return json_response(
                {"paths": ["/api", "/api/v1", "/apis", "/openapi/v3", "/version", "/healthz"]}
            )
        head = segments[0]
        if head == "version" and len(segments) == 1:
            return json_response(discovery.version())
        if head in ("healthz", "livez", "readyz"):
            return web.Response(text="ok", content_type="text/plain")
        if head == "openapi":
            return self._openapi(request, segments[1:])
        if head == "api":
            if len(segments) == 1:
                return json_response(discovery.core_versions(self.server_address))
            if segments[1] != "v1":
                raise self._no_route()
            if len(segments) == 2:
                return json_response(discovery.resource_list(self.registry, "", "v1"))
            return await self._resource(request, "", "v1", segments[2:])
        if head == "apis":
            if len(segments) == 1:
                return json_response(discovery.group_list(self.registry))
            if len(segments) == 2:
                group = discovery.group(self.registry, segments[1])
                if group is None:
                    raise self._no_route()
                return json_response(group)
            if len(segments) == 3:
                listing = discovery.resource_list(self.registry, segments[1], segments[2])
                if listing is None:
                    raise self._no_route()
                return json_response(listing)
            return await self._resource(request, segments[1], segments[2], segments[3:])
        raise self._no_route()

    @staticmethod
    def _no_route() -> ApiError:
        return ApiError(404, "the server could not find the requested resource")

    def _openapi(self, request: web.Request, rest: list[str]) -> web.Response:
        if rest == ["v3"]:
            return json_response(self.openapi.root())
        if len(rest) >= 2 and rest[0] == "v3":
            found = self.openapi.document("/".join(rest[1:]))
            if found is not None:
                body, digest = found
                headers = {"ETag": f'"{digest}"'}
                if request.query.get("hash") == digest:
                    headers["Cache-Control"] = "public, immutable"
                return web.Response(body=body, content_type="application/json", headers=headers)
        raise self._no_route()

    def _route(self, group: str, version: str, rest: list[str]) -> Target:
        watch_path = False
        if rest and rest[0] == "watch":
            watch_path = True
            rest = rest[1:]
        if not rest:
            raise self._no_route()
        namespace: str | None = None
        if (
            rest[0] == "namespaces"
            and len(rest) >= 3
            and not (group == "" and len(rest) == 3 and rest[2] in _NAMESPACE_SUBRESOURCES)
        ):
            namespace, plural, tail = rest[1], rest[2], rest[3:]
        else:
            plural, tail = rest[0], rest[1:]
        rt = self.registry.lookup(group, version, plural)
        if rt is None or len(tail) > 2:
            raise self._no_route()
        if namespace is not None and not rt.namespaced:
            raise self._no_route()
        if tail and rt.namespaced and namespace is None:
            raise self._no_route()
        name = tail[0] if tail else None
        subresource = tail[1] if len(tail) == 2 else None
        if subresource is not None and (subresource not in _SUBRESOURCES or not rt.has_status):
            raise self._no_route()
        return Target(rt, namespace, name, subresource, watch_path)

    async def _resource(
        self, request: web.Request, group: str, version: str, rest: list[str]
    ) -> web.StreamResponse:
        target = self._route(group, version, rest)
        rt = target.rt
        record: RequestRecord | None = request.get(RECORD_KEY)
        params = {key: request.query[key] for key in request.query}
        watching = target.watch_path or (request.method == "GET" and params.get("watch", "").lower() in _TRUE)
        if record is not None:
            record.verb = _verb(request.method, target, watching, params)
            record.resource = f"{rt.plural}.{rt.group}" if rt.group else rt.plural
            record.namespace = target.namespace
            record.name = target.name
            record.subresource = target.subresource
        _check_accept(request)
        if params.get("dryRun"):
            raise bad_request("dryRun is not supported by this API server; use client-side dry runs")
        method = request.method
        if target.name is None:
            if method == "GET":
                if watching:
                    return await self._watch(request, target, params)
                listing = self.api.list_objects(rt, target.namespace, params)
                table_version = requested_table(request.headers.get("Accept", ""))
                if table_version:
                    listing = as_table(
                        rt,
                        listing["items"],
                        listing["metadata"],
                        version=table_version,
                        include=_include(params),
                    )
                return json_response(listing)
            if method == "POST":
                raw = await request.read()
                options = _write_options(params)
                body, duplicates = parse_body(
                    raw,
                    request.headers.get("Content-Type", ""),
                    track_duplicates=options.field_validation != "Ignore",
                )
                return _result(self.api.create(rt, target.namespace, body, options, duplicates))
            if method == "DELETE":
                options_delete = await _delete_options(request, params)
                return json_response(self.api.delete_collection(rt, target.namespace, params, options_delete))
            raise method_not_allowed(f"{method} is not supported on a collection")
        name = target.name
        if method == "GET":
            if watching:
                return await self._watch(request, target, params)
            found = self.api.get(rt, target.namespace, name)
            table_version = requested_table(request.headers.get("Accept", ""))
            if table_version:
                list_meta = {"resourceVersion": found["metadata"]["resourceVersion"]}
                found = as_table(rt, [found], list_meta, version=table_version, include=_include(params))
            return json_response(found)
        if method == "PUT":
            raw = await request.read()
            options = _write_options(params)
            body, duplicates = parse_body(
                raw,
                request.headers.get("Content-Type", ""),
                track_duplicates=options.field_validation != "Ignore",
            )
            return _result(
                self.api.replace(rt, target.namespace, name, body, options, target.subresource, duplicates)
            )
        if method == "PATCH":
            raw = await request.read()
            return _result(
                self.api.patch(
                    rt,
                    target.namespace,
                    name,
                    request.headers.get("Content-Type", ""),
                    raw,
                    _write_options(params),
                    target.subresource,
                )
            )
        if method == "DELETE" and target.subresource is None:
            return _result(
                self.api.delete(rt, target.namespace, name, await _delete_options(request, params))
            )
        raise method_not_allowed(f"{method} is not supported here")

    # --- watch -------------------------------------------------------------------------------------

    async def _watch(
        self, request: web.Request, target: Target, params: dict[str, str]
    ) -> web.StreamResponse:
        rt = target.rt
        labels, fields = self.api.selectors(rt, params)
        if target.name is not None:
            fields = FieldSelector([*fields.terms, ("metadata.name", True, target.name)])
        send_initial = params.get("sendInitialEvents", "").lower() in _TRUE
        bookmarks = params.get("allowWatchBookmarks", "").lower() in _TRUE
        if send_initial and (params.get("resourceVersionMatch") != "NotOlderThan" or not bookmarks):
            raise invalid(
                "ListOptions",
                "meta.k8s.io",
                "",
                [
                    field_invalid(
                        "sendInitialEvents",
                        True,
                        "requires resourceVersionMatch=NotOlderThan and allowWatchBookmarks=true",
                    )
                ],
            )
        lifetime: float | None = None
        if params.get("timeoutSeconds"):
            try:
                lifetime = float(int(params["timeoutSeconds"]))
            except ValueError as exc:
                raise bad_request(f"invalid timeoutSeconds {params['timeoutSeconds']!r}") from exc
        rv_param = params.get("resourceVersion", "")
        since: int | None = None
        if rv_param not in ("", "0"):
            try:
                since = int(rv_param)
            except ValueError as exc:
                raise bad_request(f"invalid resource version {rv_param!r}") from exc
        watcher = Watcher(rt, target.namespace, labels, fields, field_value, request.path_qs)
        encode = _EventEncoder(rt, requested_table(request.headers.get("Accept", "")), _include(params))
        # From here to subscribe nothing awaits: the replay and the live feed join without a gap or overlap.
        initial: list[tuple[str, JsonObj]] = []
        gone = False
        if since is None or send_initial:
            matching = self.api.matching(rt, target.namespace, labels, fields)
            initial = [("ADDED", watcher.present(obj)) for obj in matching]
        else:
            events = self.store.log.since(rt.gr, since)
            if events is None:
                gone = True
            else:
                for event in events:
                    translated = watcher.translate(event)
                    if translated is not None:
                        initial.append(translated)
        if not gone:
            self.store.hub.subscribe(rt.gr, watcher)

        response = web.StreamResponse(
            status=200, headers={"Content-Type": "application/json", "Cache-Control": "no-cache, private"}
        )
        record: RequestRecord | None = request.get(RECORD_KEY)
        if record is not None:
            self.log.finish(record, 200)
        try:
            await response.prepare(request)
            if gone:
                error = expired(f"too old resource version: {since} ({self.store.log.horizon(rt.gr)})")
                await response.write(dumps({"type": "ERROR", "object": error.status()}) + b"\n")
                await response.write_eof()
                return response
            if initial:
                await response.write(b"".join(encode(t, o) for t, o in initial))
            if send_initial:
                await response.write(dumps({"type": "BOOKMARK", "object": self._bookmark(rt, True)}) + b"\n")
            await self._pump(request, response, watcher, encode, bookmarks, lifetime)
            await response.write_eof()
        except ConnectionError:
            logger.debug("watch client went away: %s", request.path_qs)
        finally:
            self.store.hub.unsubscribe(rt.gr, watcher)
        return response

    def _bookmark(self, rt: ResourceType, initial_end: bool = False) -> JsonObj:
        meta: JsonObj = {"resourceVersion": str(self.store.rv)}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        return {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": meta}

    async def _pump(
        self,
        request: web.Request,
        response: web.StreamResponse,
        watcher: Watcher,
        encode: _EventEncoder,
        bookmarks: bool,
        lifetime: float | None,
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + lifetime if lifetime is not None else None
        next_bookmark = loop.time() + self.bookmark_interval if bookmarks else None
        while True:
            now = loop.time()
            # Wake at least once a second to notice clients that vanished without the handler being cancelled.
            waits = [1.0]
            if deadline is not None:
                waits.append(deadline - now)
            if next_bookmark is not None:
                waits.append(next_bookmark - now)
            wait = max(0.0, min(waits))
            try:
                item = await asyncio.wait_for(watcher.queue.get(), wait)
            except TimeoutError:
                now = loop.time()
                if deadline is not None and now >= deadline:
                    return
                if request.transport is None or request.transport.is_closing():
                    return
                if next_bookmark is not None and now >= next_bookmark:
                    await response.write(encode("BOOKMARK", self._bookmark(watcher.rt)))
                    next_bookmark = now + self.bookmark_interval
                continue
            if item is None:
                return
            chunk = [encode(*item)]
            # Drain whatever else is queued so a burst goes out as one write.
            while not watcher.queue.empty():
                extra = watcher.queue.get_nowait()
                if extra is None:
                    await response.write(b"".join(chunk))
                    return
                chunk.append(encode(*extra))
            await response.write(b"".join(chunk))


def _include(params: dict[str, str]) -> str:
    value = params.get("includeObject", "Metadata")
    if value not in ("None", "Metadata", "Object"):
        raise bad_request(f"includeObject must be None, Metadata or Object, got {value!r}")
    return value


class _EventEncoder:
    """Serialises watch events; for Table watches only the first row carries the column definitions."""

    def __init__(self, rt: ResourceType, table_version: str | None, include: str) -> None:
        self._rt = rt
        self._table = table_version
        self._include = include
        self._first = True

    def __call__(self, event_type: str, obj: JsonObj) -> bytes:
        if self._table and event_type in ("ADDED", "MODIFIED", "DELETED"):
            list_meta = {"resourceVersion": obj["metadata"].get("resourceVersion", "")}
            obj = as_table(
                self._rt,
                [obj],
                list_meta,
                version=self._table,
                include=self._include,
                with_columns=self._first,
            )
            self._first = False
        return dumps({"type": event_type, "object": obj}) + b"\n"


def _verb(method: str, target: Target, watching: bool, params: dict[str, str]) -> str:
    if method == "GET":
        if watching:
            return "watch"
        return "get" if target.name is not None else "list"
    if method == "POST":
        return "create"
    if method == "PUT":
        return "update"
    if method == "PATCH":
        return "patch"
    if method == "DELETE":
        return "delete" if target.name is not None else "deletecollection"
    return method.lower()


def _check_accept(request: web.Request) -> None:
    accept = request.headers.get("Accept", "")
    if not accept:
        return
    for part in accept.split(","):
        media = part.split(";")[0].strip().lower()
        if media in ("application/json", "*/*", "application/*", "application/json-patch+json"):
            return
    raise ApiError(406, f"only application/json responses are served (Accept: {accept})")


_FIELD_VALIDATION = {"": "Warn", "strict": "Strict", "warn": "Warn", "ignore": "Ignore"}


def _write_options(params: dict[str, str]) -> WriteOptions:
    raw = params.get("fieldValidation", "")
    validation = _FIELD_VALIDATION.get(raw.lower())
    if validation is None:
        raise bad_request(f'fieldValidation must be one of "Ignore", "Warn" or "Strict", got {raw!r}')
    manager = params.get("fieldManager") or None
    if manager is not None and len(manager) > 128:
        raise invalid(
            "PatchOptions",
            "meta.k8s.io",
            "",
            [field_invalid("fieldManager", manager, "must be at most 128 characters")],
        )
    return WriteOptions(
        field_validation=validation, field_manager=manager, force=params.get("force", "") in _TRUE
    )


async def _delete_options(request: web.Request, params: dict[str, str]) -> DeleteOptions:
    body: Any = {}
    raw = await request.read()
    if raw.strip():
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise bad_request(f"error decoding DeleteOptions: {exc}") from exc
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise bad_request("DeleteOptions must be an object")
    if body.get("dryRun"):
        raise bad_request("dryRun is not supported by this API server; use client-side dry runs")
    preconditions = body.get("preconditions") or {}
    orphan: bool | None = None
    if "orphanDependents" in params:
        orphan = params["orphanDependents"].lower() in _TRUE
    elif isinstance(body.get("orphanDependents"), bool):
        orphan = body["orphanDependents"]
    return DeleteOptions(
        propagation=params.get("propagationPolicy") or body.get("propagationPolicy") or None,
        orphan_dependents=orphan,
        uid=preconditions.get("uid") if isinstance(preconditions, dict) else None,
        resource_version=preconditions.get("resourceVersion") if isinstance(preconditions, dict) else None,
    )
