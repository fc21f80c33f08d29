"""The HTTP side: one port serving api.twilio.com, messaging.twilio.com and iam.twilio.com.

The product is chosen by the first DNS label of the Host header (``api``, ``messaging``, ``iam``; regional
forms such as ``api.dublin.ie1.twilio.com`` work too), so a client that rewrites only scheme, host and port
(``twilio_operator.twilio.http.BaseUrlHttpClient``) reaches the right product. Clients that cannot set Host
may instead prefix the path with the product (``/messaging/v1/Services``); v1 page URLs then point back at
the emulator. Each request goes through: route (from the spec) → fault injection → authentication →
authorization → per-account concurrency admission → configured latency → contract check → handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import urllib.parse
from collections import defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from . import routes_api, routes_bulkexports, routes_events, routes_iam, routes_messaging, routes_usage, usage
from .auth import authenticate_request, authorize, parse_basic
from .callbacks import Callbacks
from .calls import Call, Handler, Reply
from .contract import (
    HOSTNAMES,
    HOSTS,
    Host,
    MethodNotAllowed,
    Operation,
    ResponseChecker,
    RouteNotFound,
    Violation,
    host_spec,
)
from .errors import TwilioError, injected, method_not_allowed, not_found, too_many_requests
from .events import MESSAGE_EVENT, message_event
from .faults import Fault, FaultKind, FaultRegistry
from .formats import utcnow
from .messages import SentMessage, Step
from .state import TwilioState
from .usage import ArchiveDay

# Seconds after a message is sent at which its account's usage triggers look at the usage it made.
USAGE_SETTLE = 0.05

REQUEST_LOG_SIZE = 50_000
VIOLATION_LOG_SIZE = 10_000

HANDLERS: dict[tuple[Host, str], Handler] = {
    **{("api", op): handler for op, handler in routes_api.HANDLERS.items()},
    **{("messaging", op): handler for op, handler in routes_messaging.HANDLERS.items()},
    **{("iam", op): handler for op, handler in routes_iam.HANDLERS.items()},
    **{("events", op): handler for op, handler in routes_events.HANDLERS.items()},
    **{("api", op): handler for op, handler in routes_usage.HANDLERS.items()},
    **{("bulkexports", op): handler for op, handler in routes_bulkexports.HANDLERS.items()},
}


@dataclass
class Settings:
    latency: float = 0.0
    concurrency_limit: int | None = None
    check_responses: bool = False


class RequestLog:
    """The last requests served, for tests to assert on. Appending is O(1); requests never scan it."""

    def __init__(self, size: int = REQUEST_LOG_SIZE) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=size)
        self._seq = itertools.count(1)
        self.last_seq = 0
        self._appended = asyncio.Event()

    def append(self, entry: dict[str, Any]) -> int:
        # The sequence number is assigned on completion, so entries are in seq order without gaps.
        self.last_seq = next(self._seq)
        entry["seq"] = self.last_seq
        self._entries.append(entry)
        self._appended.set()
        self._appended = asyncio.Event()
        return self.last_seq

    def since(self, seq: int) -> list[dict[str, Any]]:
        if not self._entries:
            return []
        skip = max(0, seq - self._entries[0]["seq"] + 1)
        return [dict(entry) for entry in itertools.islice(self._entries, skip, None)]

    async def wait_beyond(self, seq: int, within: float) -> None:
        """Return once an entry after ``seq`` exists, or after ``within`` seconds."""
        if self.last_seq > seq:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._appended.wait(), within)

    def clear(self) -> None:
        self._entries.clear()


@dataclass(frozen=True)
class _Parsed:
    """A routed request, its parameters and what the contract check found."""

    op: Operation
    params: dict[str, str]
    path: str
    query: list[tuple[str, str]]
    form: list[tuple[str, str]]
    violations: list[Violation]
    public_base: str


@dataclass
class _Exchange:
    """What is known about one request as it moves through the pipeline."""

    entry: dict[str, Any]
    violations: list[dict[str, Any]] = field(default_factory=list)
    fault: Fault | None = None
    headers: dict[str, str] = field(default_factory=dict)


class EmulatorCore:
    """State, faults, logs and the request pipeline, independent of how the HTTP server is run."""

    def __init__(self, *, latency: float = 0.0, concurrency_limit: int | None = None, seed: int = 0) -> None:
        self.seed = seed
        self.callbacks = Callbacks(seed)
        self.state = self._new_state()
        self.settings = Settings(latency=latency, concurrency_limit=concurrency_limit)
        self.faults = FaultRegistry(seed)
        self.log = RequestLog()
        self.violations: deque[dict[str, Any]] = deque(maxlen=VIOLATION_LOG_SIZE)
        self._inflight: defaultdict[str, int] = defaultdict(int)
        self._stopping = asyncio.Event()
        self._response_checker: ResponseChecker | None = None
        for host in HOSTS:
            host_spec(host)  # parse the specs now rather than on the first request

    def _new_state(self) -> TwilioState:
        state = TwilioState(self.seed)
        state.message_time_scale = self.callbacks.time_scale
        state.on_message = self._on_message
        state.on_usage = self.evaluate_triggers
        return state

    def _on_message(self, message: SentMessage, url: str | None, token: str) -> None:
        self.callbacks.schedule(message, url, token)
        if self.state.events.account_subscriptions(message.account_sid):
            loop = asyncio.get_running_loop()
            for step in message.steps:
                loop.call_later(step.at, self._stream, message, step)
        sent = next((step.at for step in message.steps if step.status == "sent"), None)
        watched = any(t.account_sid == message.account_sid for t in self.state.triggers.values())
        if sent is not None and watched:
            # The message counts in usage once sent: the account's triggers look then (Twilio looks about
            # once a minute; sooner changes nothing but the wait).
            loop = asyncio.get_running_loop()
            loop.call_later(sent + USAGE_SETTLE, self.evaluate_triggers, message.account_sid)

    def _stream(self, message: SentMessage, step: Step) -> None:
        """Deliver the event of a message's new status to the webhook sinks subscribed to it then."""
        state = self.state
        event_type = MESSAGE_EVENT + step.status
        account = state.accounts.get(message.account_sid)
        if account is None:
            return
        for sink, version in state.events.receivers(message.account_sid, event_type):
            event_id = state.new_sid("EZ")
            event = message_event(event_id, message, step.status, step.error_code, version, utcnow())
            record: dict[str, Any] = {"id": event_id, "type": event_type, "message": message.sid}
            sink.deliveries.append(record)
            batched = sink.configuration.get("batch_events", True)
            self.callbacks.send_events(
                sink.configuration["destination"],
                account.auth_token,
                [event] if batched else event,
                record,
                0.0,
            )

    def evaluate_triggers(self, account_sid: str) -> None:
        """Fire the account's usage triggers whose threshold its usage reached, with a signed callback."""
        state = self.state
        triggers = [t for t in state.triggers.values() if t.account_sid == account_sid]
        if not triggers:
            return
        messages = [m for m in state.messages.values() if m.account_sid == account_sid]
        for trigger in usage.fire(triggers, usage.this_month(messages), utcnow()):
            record: dict[str, Any] = {"fired": trigger.fired_period}
            trigger.callbacks.append(record)
            uri = f"/2010-04-01/Accounts/{account_sid}/Usage/Records.json?Category={trigger.usage_category}"
            token = state.accounts[account_sid].auth_token
            self.callbacks.send(trigger.callback_url, token, usage.callback_params(trigger, uri), record)

    def archive_file(self, path: str) -> web.Response:
        """A day's file, as the storage bucket FetchDay redirects to serves it (no credentials needed)."""
        account_sid, resource_type, name = [*path.strip("/").split("/"), "", "", ""][:3]
        config = self.state.exports.get((account_sid, resource_type))
        ready = config.days.get(name.removesuffix(".json.gz")) if config else None
        if ready is None:
            return web.Response(status=404, text="NoSuchKey")
        return web.Response(body=ready.content, content_type="application/gzip")

    def archive_day(self, account_sid: str, resource_type: str, day: str) -> ArchiveDay:
        """Make a day's archive ready, as Twilio does after the day ends, and notify the export's webhook."""
        config = self.state.exports.get((account_sid, resource_type))
        if config is None or not config.enabled:
            raise TwilioError(409, 20409, f"{resource_type} exports are not enabled for {account_sid}")
        ready = usage.archive(account_sid, list(self.state.messages.values()), day)
        config.days[day] = ready
        if config.webhook_url:
            token = self.state.accounts[account_sid].auth_token
            params = usage.archive_notification(account_sid, resource_type, ready)
            self.callbacks.send(config.webhook_url, token, params, ready.notifications)
        return ready

    def reset(self) -> None:
        """Back to a fresh start: same parent credentials, no other objects, no faults, empty logs."""
        self.state = self._new_state()
        self.faults.clear()
        self.log.clear()
        self.violations.clear()

    def release_hung(self) -> None:
        """Let requests held by hang faults finish, so the server can stop."""
        self._stopping.set()

    def rearm(self) -> None:
        """Hang faults hold requests again (after a stop, for a restart)."""
        self._stopping = asyncio.Event()

    # -- pipeline --------------------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.host.rsplit(":", 1)[0].lower() == usage.ARCHIVE_HOST:
            return self.archive_file(request.path)
        started = time.monotonic()
        body = await request.read()
        host, path, public_base = _resolve_host(request)
        credentials = parse_basic(request.headers.get("Authorization"))
        exchange = _Exchange(
            entry={
                "time": time.time(),
                "host": HOSTNAMES[host] if host else request.host,
                "method": request.method,
                "path": path,
                "operation": None,
                "principal": None,
                # Only the SID part of the credential is ever recorded, never the token or secret.
                "auth_sid": credentials[0] if credentials and credentials[0][:2] in ("AC", "SK") else None,
                "status": None,
                "write": request.method in ("POST", "DELETE"),
                "duration": None,
            }
        )
        op: Operation | None = None
        try:
            if host is None:
                self._route_violation(exchange, "no Twilio product at this host and path")
                raise not_found(path)
            op, params = self._route(exchange, host, request.method, path)
            # Every routed request is checked against the spec before anything else can answer it (a fault,
            # a credential error), so a contract problem is recorded even when the answer hides it.
            query = list(request.query.items())
            form = _parse_form(body)
            if form is None:
                violations = [Violation(None, "body", "The request body is not UTF-8 form data")]
            else:
                content_type = request.content_type if body else ""
                authorization = request.headers.get("Authorization", "")
                violations = host_spec(host).validate(
                    op, path, query, form, body, content_type, authorization
                )
            if violations:
                self._contract_violation(exchange, violations)
            fault = self.faults.match(op.operation_id, request.method, path) if self.faults else None
            exchange.fault = fault
            if fault is not None:
                exchange.entry["fault"] = fault.kind.value
                if fault.latency:
                    await asyncio.sleep(fault.latency)
                if fault.kind is FaultKind.HANG:
                    # Logged now, with no status: the request is never answered (until the emulator stops).
                    self._finish(exchange)
                    await self._stopping.wait()
                    return web.Response(status=503)
                if fault.kind is FaultKind.STATUS:
                    raise injected(fault.status, fault.retry_after)
            call = _Parsed(op, params, path, query, form or [], violations, public_base)
            reply = await self._serve(exchange, request, call)
            exchange.headers.update(reply.headers or {})
        except TwilioError as error:
            reply = Reply(error.status, error.body())
            exchange.headers.update(error.headers)
        if self.settings.check_responses and op is not None:
            self._check_response(exchange, op, reply)
        exchange.entry["status"] = reply.status
        exchange.entry["duration"] = time.monotonic() - started
        self._finish(exchange)
        if exchange.fault is not None and exchange.fault.kind is FaultKind.COMMIT_THEN_HANG:
            await self._stopping.wait()
        if reply.body is None:
            return web.Response(status=reply.status, headers=exchange.headers)
        return web.json_response(reply.body, status=reply.status, headers=exchange.headers)

    def _route(
        self, exchange: _Exchange, host: Host, method: str, path: str
    ) -> tuple[Operation, dict[str, str]]:
        spec = host_spec(host)
        try:
            op, params = spec.match(method, path)
        except RouteNotFound:
            self._route_violation(exchange, f"{path} is not a path of the {HOSTNAMES[host]} spec")
            raise not_found(path) from None
        except MethodNotAllowed:
            self._route_violation(exchange, f"{method} is not an operation of {path} in the spec")
            raise method_not_allowed(method, path) from None
        exchange.entry["operation"] = op.operation_id
        return op, params

    async def _serve(self, exchange: _Exchange, request: web.Request, parsed: _Parsed) -> Reply:
        op = parsed.op
        # Twilio checks credentials first: a request with bad credentials gets 401 whatever else is wrong.
        principal = authenticate_request(self.state, request.headers.get("Authorization"))
        if parsed.violations:
            first = parsed.violations[0]
            raise TwilioError(400, first.code, first.message)
        account = authorize(principal, self.state, op.host, op.operation_id, parsed.params, op.method)
        exchange.entry["principal"] = account.sid
        with self._admit(account.sid, exchange):
            if self.settings.latency:
                await asyncio.sleep(self.settings.latency)
            call = Call(
                op=op,
                path=parsed.path,
                path_params=parsed.params,
                query=dict(parsed.query),
                query_pairs=parsed.query,
                form=dict(parsed.form),
                principal=principal,
                account=account,
                state=self.state,
                public_base=parsed.public_base,
                form_pairs=parsed.form,
            )
            return HANDLERS[(op.host, op.operation_id)](call)

    @contextlib.contextmanager
    def _admit(self, account_sid: str, exchange: _Exchange) -> Iterator[None]:
        """Twilio's per-account concurrency limit: excess requests get 429/20429 and are not processed."""
        limit = self.settings.concurrency_limit
        current = self._inflight[account_sid]
        if limit is not None and current >= limit:
            raise too_many_requests()
        self._inflight[account_sid] = current + 1
        exchange.headers["Twilio-Concurrent-Requests"] = str(current + 1)
        try:
            yield
        finally:
            self._inflight[account_sid] -= 1
            if not self._inflight[account_sid]:
                del self._inflight[account_sid]

    # -- records -----------------------------------------------------------------------------------------

    def _finish(self, exchange: _Exchange) -> None:
        seq = self.log.append(exchange.entry)
        for violation in exchange.violations:
            violation["seq"] = seq
            self.violations.append(violation)
        exchange.violations.clear()

    def _violation_record(self, exchange: _Exchange, kind: str, problems: list[dict[str, Any]]) -> None:
        entry = exchange.entry
        exchange.violations.append(
            {
                "kind": kind,
                "time": entry["time"],
                "host": entry["host"],
                "method": entry["method"],
                "path": entry["path"],
                "operation": entry["operation"],
                "problems": problems,
            }
        )

    def _route_violation(self, exchange: _Exchange, message: str) -> None:
        self._violation_record(
            exchange, "request", [{"parameter": None, "location": "path", "message": message}]
        )

    def _contract_violation(self, exchange: _Exchange, violations: list[Violation]) -> None:
        self._violation_record(exchange, "request", [v.as_dict() for v in violations])

    def _check_response(self, exchange: _Exchange, op: Operation, reply: Reply) -> None:
        if self._response_checker is None:
            self._response_checker = ResponseChecker()
        problems = self._response_checker.check(op, reply.status, reply.body)
        if problems:
            self._violation_record(
                exchange,
                "response",
                [{"parameter": None, "location": "response", "message": problem} for problem in problems],
            )


def _resolve_host(request: web.Request) -> tuple[Host | None, str, str]:
    """The product a request is for, the path within it, and the base of absolute URLs in the answer."""
    hostname = request.host.rsplit(":", 1)[0] if not request.host.startswith("[") else request.host
    label = hostname.split(".", 1)[0].lower()
    path = request.path
    for host in HOSTS:
        if label == host and "." in hostname:
            return host, path, f"https://{HOSTNAMES[host]}"
    first, _, rest = path.lstrip("/").partition("/")
    for host in HOSTS:
        if first == host:
            return host, f"/{rest}", f"{request.scheme}://{request.host}/{host}"
    own_base = f"{request.scheme}://{request.host}"
    if path.startswith("/2010-04-01/"):
        return "api", path, own_base
    if path.startswith("/v1/Keys"):
        return "iam", path, own_base
    if path.startswith("/v1/Services"):
        return "messaging", path, own_base
    if path.startswith(("/v1/Sinks", "/v1/Subscriptions", "/v1/Types")):
        return "events", path, own_base
    if path.startswith("/v1/Exports"):
        return "bulkexports", path, own_base
    return None, path, own_base


def _parse_form(body: bytes) -> list[tuple[str, str]] | None:
    """The form fields of a request body; None when the body is not UTF-8 text."""
    if not body:
        return []
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return urllib.parse.parse_qsl(text, keep_blank_values=True)
