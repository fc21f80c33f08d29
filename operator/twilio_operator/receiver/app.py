"""The receiver's HTTP interface: the Twilio endpoints, the message API, the page, metrics, probes.

Every Twilio endpoint takes the same path: the body within its limit, the signature checked with the
account's own token, the request parsed, committed, and only then acknowledged; refusals are counted by
endpoint and reason.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict
from typing import Any, TypeVar

from aiohttp import web

from . import page, signature
from .committer import Committer
from .directory import Directory
from .export import record
from .metrics import (
    BAD_SIGNATURE,
    MALFORMED,
    TOO_LARGE,
    UNAVAILABLE,
    UNKNOWN_ACCOUNT,
    UNSIGNED,
    ReceiverMetrics,
)
from .parse import (
    ACCOUNT_SID,
    MESSAGE_SID,
    Malformed,
    archive_notice,
    cloud_events,
    event_accounts,
    parse_form,
    status_event,
    stream_event,
    usage_alert,
)
from .repair import Outages
from .store.base import Store, StoredEvent, StoreUnavailable
from .store.model import ArchiveDay, Event, UsageAlert
from .summary import archive_day_record, iso, summary, usage_alert_record

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Twilio-Signature"
FORM = "application/x-www-form-urlencoded"
# How many usage alerts and archive days the API returns at most (newest first).
API_LIMIT = 1000
T = TypeVar("T")


class Rejected(Exception):
    """The answer to a request that is not stored: its HTTP status and the reason label it is counted by."""

    def __init__(self, status: int, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.reason = reason


class Receiver:
    """The HTTP side of one receiver. ``store_started`` turns true once the database is connected and
    migrated; until then callbacks get 503 (Twilio retries) and the pod is not ready."""

    def __init__(
        self,
        store: Store,
        committer: Committer,
        directory: Directory,
        metrics: ReceiverMetrics,
        *,
        public_url: str | None = None,
        max_body: int = 64 * 1024,
        outages: Outages | None = None,
    ) -> None:
        # Where a failed commit is noted, so the repair pass lists what Twilio sent meanwhile.
        self.outages = outages or Outages()
        self.store = store
        self.committer = committer
        self.directory = directory
        self.metrics = metrics
        self.public_url = public_url
        self.max_body = max_body
        self.store_started = False
        # Whether the credentials Secrets have been listed: before that, an unknown account may just not be
        # read yet, so its callbacks get a 503 (Twilio retries) rather than a 403, and the pod is not ready.
        self.credentials_loaded: Callable[[], bool] = lambda: True

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/twilio/status", self.status),
            web.post("/twilio/events", self.events),
            web.post("/twilio/usage", self.usage),
            web.post("/twilio/archives", self.archives),
            web.get("/api/messages/{sid}", self.message),
            web.get("/api/summary", self.summary),
            web.get("/api/usage-alerts", self.usage_alerts),
            web.get("/api/archive-days", self.archive_days),
            web.get("/", self.page),
            web.get("/metrics", self.metrics_page),
            web.get("/healthz", self.healthz),
            web.get("/readyz", self.readyz),
        ]

    def application(self) -> web.Application:
        # The body limit is enforced by the handlers (413 with a reason); aiohttp's own is a backstop.
        app = web.Application(client_max_size=self.max_body * 2)
        app.add_routes(self.routes())
        return app

    # -- the URL Twilio called -----------------------------------------------------------------------------

    def called_url(self, request: web.Request) -> str:
        """The public URL of this request: the configured base, else what the Ingress forwarded."""
        path = request.raw_path
        if self.public_url:
            return self.public_url + path
        proto = _first(request.headers.get("X-Forwarded-Proto")) or request.scheme
        host = _first(request.headers.get("X-Forwarded-Host")) or request.host
        return f"{proto}://{host}{path}"

    async def _body(self, request: web.Request) -> bytes:
        declared = request.content_length
        if declared is not None and declared > self.max_body:
            raise Rejected(413, TOO_LARGE, f"body of {declared} bytes is over the limit")
        body = await request.content.read(self.max_body + 1)
        if len(body) > self.max_body:
            raise Rejected(413, TOO_LARGE, "body is over the limit")
        return body

    def _token(self, account_sid: str) -> str:
        token = self.directory.token(account_sid)
        if token is None:
            if not self.credentials_loaded():
                raise Rejected(503, UNAVAILABLE, "the credentials Secrets are not read yet")
            raise Rejected(403, UNKNOWN_ACCOUNT, f"no credentials Secret for account {account_sid}")
        return token

    # -- form requests: POST /twilio/status, /twilio/usage, /twilio/archives ------------------------------

    def _signed_form(self, request: web.Request, body: bytes) -> list[tuple[str, str]]:
        """The parameters of a form request signed with the token of its AccountSid, over the public URL
        (query string included)."""
        sent = request.headers.get(SIGNATURE_HEADER)
        if not sent:
            raise Rejected(403, UNSIGNED, "no X-Twilio-Signature")
        if request.content_type != FORM:
            raise Rejected(400, MALFORMED, "the body is not form data")
        params = parse_form(body)
        account = dict(params).get("AccountSid", "")
        if not ACCOUNT_SID.match(account):
            raise Rejected(403, UNKNOWN_ACCOUNT, "no AccountSid")
        url = self.called_url(request)
        if not signature.valid(self._token(account), url, params, sent):
            raise Rejected(403, BAD_SIGNATURE, f"signature does not match for account {account} at {url}")
        return params

    async def status(self, request: web.Request) -> web.Response:
        return await self._receive(request, "status", self._status_events, self._commit_events)

    def _status_events(self, request: web.Request, body: bytes) -> list[Event]:
        return [status_event(self._signed_form(request, body), body, time.time())]

    async def usage(self, request: web.Request) -> web.Response:
        """A usage trigger fired. The operator names the alert in the callback URL (``?alert=<name>``), which
        the signature covers."""
        return await self._receive(request, "usage", self._usage_alert, self._commit_usage_alert)

    def _usage_alert(self, request: web.Request, body: bytes) -> UsageAlert:
        params = self._signed_form(request, body)
        return usage_alert(params, request.query.get("alert", ""), time.time())

    async def _commit_usage_alert(self, alert: UsageAlert) -> tuple[int, int]:
        if not await self.store.add_usage_alert(alert):
            return 0, 1
        self.metrics.usage_alert(alert)
        log.info(
            "usage alert %r of %s fired: %s by %s reached %g (threshold %g)",
            alert.alert,
            self.directory.subaccount(alert.account_sid),
            alert.usage_category,
            alert.trigger_by,
            alert.current_value,
            alert.trigger_value,
        )
        return 1, 1

    async def archives(self, request: web.Request) -> web.Response:
        """BulkExports: a day's archive is ready (``twilio-operator receiver archive fetch`` reads it)."""
        return await self._receive(request, "archives", self._archive_notice, self._commit_archive_day)

    def _archive_notice(self, request: web.Request, body: bytes) -> ArchiveDay:
        return archive_notice(self._signed_form(request, body), time.time())

    async def _commit_archive_day(self, day: ArchiveDay) -> tuple[int, int]:
        if not await self.store.archive_notified(day):
            return 0, 1
        self.metrics.archive_day(day)
        log.info("the %s archive of %s for %s is ready", day.resource_type, day.account_sid, day.day)
        return 1, 1

    # -- POST /twilio/events --------------------------------------------------------------------------------

    async def events(self, request: web.Request) -> web.Response:
        return await self._receive(request, "events", self._stream_events, self._commit_events)

    def _stream_events(self, request: web.Request, body: bytes) -> list[Event]:
        sent = request.headers.get(SIGNATURE_HEADER)
        if not sent:
            raise Rejected(403, UNSIGNED, "no X-Twilio-Signature")
        url = self.called_url(request)
        if not signature.body_hash_matches(url, body):
            raise Rejected(403, BAD_SIGNATURE, "bodySHA256 is missing or does not match the body")
        items = cloud_events(body)
        accounts = event_accounts(items)
        tokens = [token for token in map(self.directory.token, accounts) if token]
        if not tokens:
            if not self.credentials_loaded():
                raise Rejected(503, UNAVAILABLE, "the credentials Secrets are not read yet")
            raise Rejected(403, UNKNOWN_ACCOUNT, "no credentials Secret for the events' accounts")
        if not any(signature.valid(token, url, (), sent) for token in tokens):
            raise Rejected(403, BAD_SIGNATURE, f"signature does not match at {url}")
        now = time.time()
        return [stream_event(item, now) for item in items]

    async def _commit_events(self, events: Sequence[Event]) -> tuple[int, int]:
        result = await self.committer.submit(events)
        return len(result.stored), len(events)

    # -- shared path: check, commit, answer ---------------------------------------------------------------

    async def _receive(
        self,
        request: web.Request,
        endpoint: str,
        parse: Callable[[web.Request, bytes], T],
        commit: Callable[[T], Awaitable[tuple[int, int]]],
    ) -> web.Response:
        """``parse`` checks and reads the request (raising Rejected or Malformed); ``commit`` stores it and
        says how many of the deliveries it held were new, and how many there were."""
        try:
            body = await self._body(request)
            try:
                parsed = parse(request, body)
            except Malformed as error:
                raise Rejected(400, MALFORMED, str(error)) from error
            if not self.store_started:
                raise Rejected(503, UNAVAILABLE, "the database is not connected yet")
            try:
                stored, received = await commit(parsed)
            except StoreUnavailable as error:
                self.metrics.db_up.set(0)
                self.outages.note(time.time())
                raise Rejected(503, UNAVAILABLE, "the database did not commit") from error
        except Rejected as rejected:
            self.metrics.rejected.labels(endpoint, rejected.reason).inc()
            # Never the token, the signature or the body: the reason and what identifies the sender.
            log.warning(
                "refused %s %s: %d %s (%s)",
                request.method,
                request.path,
                rejected.status,
                rejected.reason,
                rejected,
            )
            return web.Response(status=rejected.status, text=f"{rejected.reason}\n")
        if stored:
            self.metrics.stored[endpoint].inc(stored)
        if stored < received:
            self.metrics.duplicates[endpoint].inc(received - stored)
        # Twilio needs no body; an empty TwiML-free 204 would do too, but 200 is what its docs show.
        return web.Response(status=200)

    # -- reads ----------------------------------------------------------------------------------------

    async def message(self, request: web.Request) -> web.Response:
        sid = request.match_info["sid"]
        if not MESSAGE_SID.match(sid):
            return web.json_response({"error": "not a message SID"}, status=400)
        try:
            found = await self.store.message(sid)
        except StoreUnavailable:
            return web.json_response({"error": "database unavailable"}, status=503)
        if found is None:
            return web.json_response({"error": "no such message"}, status=404)
        message, events = found
        return web.json_response(
            {
                **record(message),
                "events": [
                    {
                        **asdict(event),
                        "receivedAt": iso(event.received_at),
                        "payload": _payload(event),
                    }
                    for event in events
                ],
            }
        )

    async def usage_alerts(self, request: web.Request) -> web.Response:
        return await self._listing(request, "usageAlerts", self.store.usage_alerts, usage_alert_record)

    async def archive_days(self, request: web.Request) -> web.Response:
        return await self._listing(request, "archiveDays", self.store.archive_days, archive_day_record)

    async def _listing(
        self,
        request: web.Request,
        key: str,
        load: Callable[[int], Awaitable[list[T]]],
        form: Callable[[T, Directory], dict[str, Any]],
    ) -> web.Response:
        try:
            found = await load(_limit(request))
        except StoreUnavailable:
            return web.json_response({"error": "database unavailable"}, status=503)
        return web.json_response({key: [form(item, self.directory) for item in found]})

    async def _summary(self) -> dict[str, Any]:
        return await summary(self.store, self.directory)

    async def summary(self, request: web.Request) -> web.Response:
        try:
            return web.json_response(await self._summary())
        except StoreUnavailable:
            return web.json_response({"error": "database unavailable"}, status=503)

    async def page(self, request: web.Request) -> web.Response:
        try:
            html = page.render(await self._summary())
        except StoreUnavailable:
            return web.Response(status=503, text="The database is unavailable.\n")
        return web.Response(text=html, content_type="text/html")

    async def metrics_page(self, request: web.Request) -> web.Response:
        return web.Response(body=self.metrics.render(), headers={"Content-Type": "text/plain; version=0.0.4"})

    async def healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(self, request: web.Request) -> web.Response:
        if not self.store_started:
            return web.Response(status=503, text="database not connected\n")
        if not self.credentials_loaded():
            return web.Response(status=503, text="credentials Secrets not read yet\n")
        try:
            await self.store.ping()
        except StoreUnavailable:
            self.metrics.db_up.set(0)
            return web.Response(status=503, text="database unreachable\n")
        self.metrics.db_up.set(1)
        return web.Response(text="ok\n")


def _limit(request: web.Request) -> int:
    """``?limit=N`` (1 to API_LIMIT; anything else, the most)."""
    text = request.query.get("limit", "")
    return min(int(text), API_LIMIT) if text.isdigit() and int(text) > 0 else API_LIMIT


def _first(value: str | None) -> str | None:
    return value.split(",", 1)[0].strip() or None if value else None


def _payload(event: StoredEvent) -> Any:
    """A stored payload for the API: a callback's form fields as an object, JSON (CloudEvents) as it came."""
    if event.source == "callback":
        return dict(urllib.parse.parse_qsl(event.payload, keep_blank_values=True))
    try:
        return json.loads(event.payload)
    except ValueError:
        return event.payload
