"""Test-control endpoints under ``/__sandbox/``: plain JSON, no Twilio auth, no contract check.

They let tests that run the emulator in another process inspect what the operator sent, set up what only
the Twilio Console or the carrier could (numbers, short codes, Main keys, delivery callbacks), see every
message's true fate and its callbacks, route a public host to a local receiver (the sandbox's Ingress),
inject faults and tune latency, concurrency limits and the messages' pace.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from .errors import TwilioError
from .faults import FaultSpecError
from .formats import E164_RE, SHORT_CODE_RE
from .server import EmulatorCore
from .state import Account, AccountStatus, KeyType, TwilioState

PREFIX = "/__sandbox"
MESSAGE_STATUSES = frozenset(
    {
        "queued",
        "sending",
        "sent",
        "failed",
        "delivered",
        "undelivered",
        "receiving",
        "received",
        "accepted",
        "scheduled",
        "read",
        "partially_delivered",
        "canceled",
    }
)

DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

ControlHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status)


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        data = await request.json()
    except json.JSONDecodeError as error:
        raise ControlError(400, f"body is not JSON: {error.msg}") from error
    if not isinstance(data, dict):
        raise ControlError(400, "body must be a JSON object")
    return data


def state_dump(state: TwilioState) -> dict[str, Any]:
    """Everything the emulator holds, minus every secret (auth tokens and key secrets are never listed)."""
    return {
        "accounts": [
            {
                "sid": a.sid,
                "friendly_name": a.friendly_name,
                "status": a.status.value,
                "owner": a.owner_sid,
            }
            for a in state.accounts.values()
        ],
        "keys": [
            {
                "sid": k.sid,
                "account": k.account_sid,
                "friendly_name": k.friendly_name,
                "type": k.type.value,
                "policy": k.policy,
            }
            for k in state.keys.values()
        ],
        "services": [
            {
                "sid": s.sid,
                "account": s.account_sid,
                "friendly_name": s.settings.get("friendly_name"),
                "settings": dict(s.settings),
                "senders": {
                    "phone_numbers": [
                        {"sid": sid, "phone_number": state.numbers[sid].phone_number}
                        for sid in s.phone_numbers
                    ],
                    "short_codes": [
                        {"sid": sid, "short_code": state.short_codes[sid].short_code} for sid in s.short_codes
                    ],
                    "alpha_senders": [
                        {"sid": a.sid, "alpha_sender": a.alpha_sender} for a in s.alpha_senders.values()
                    ],
                },
            }
            for s in state.services.values()
        ],
        "incoming_phone_numbers": [
            {
                "sid": n.sid,
                "account": n.account_sid,
                "phone_number": n.phone_number,
                "service": n.service_sid,
                "friendly_name": n.friendly_name,
                "settings": dict(n.settings),
            }
            for n in state.numbers.values()
        ],
        # A Kinesis sink's external_id is left out; its test ids are what its owner reads from the stream.
        "sinks": [
            {
                "sid": s.sid,
                "account": s.account_sid,
                "description": s.description,
                "sink_type": s.sink_type,
                "status": s.status,
                "configuration": {k: v for k, v in s.configuration.items() if k != "external_id"},
                "tests": list(s.tests),
                "deliveries": [dict(d, attempts=list(d["attempts"])) for d in s.deliveries],
            }
            for s in state.events.sinks.values()
        ],
        "subscriptions": [
            {
                "sid": s.sid,
                "account": s.account_sid,
                "description": s.description,
                "sink": s.sink_sid,
                "types": dict(s.types),
            }
            for s in state.events.subscriptions.values()
        ],
        "short_codes": [
            {"sid": c.sid, "account": c.account_sid, "short_code": c.short_code, "service": c.service_sid}
            for c in state.short_codes.values()
        ],
        "usage_triggers": [
            {
                "sid": t.sid,
                "account": t.account_sid,
                "friendly_name": t.friendly_name,
                "usage_category": t.usage_category,
                "trigger_by": t.trigger_by,
                "trigger_value": t.trigger_value,
                "recurring": t.recurring,
                "callback_url": t.callback_url,
                "current_value": t.current_value,
                "date_fired": t.date_fired.isoformat() if t.date_fired else None,
                "callbacks": t.callbacks,
            }
            for t in state.triggers.values()
        ],
        "exports": [
            {
                "account": account,
                "resource_type": resource_type,
                "enabled": config.enabled,
                "webhook_url": config.webhook_url,
                "days": [
                    {"day": d.day, "size": d.size, "notification": d.notifications}
                    for d in config.days.values()
                ],
            }
            for (account, resource_type), config in state.exports.items()
        ],
    }


class Control:
    def __init__(self, core: EmulatorCore, info: Callable[[], dict[str, Any]]) -> None:
        self.core = core
        self._info = info

    def routes(self) -> list[web.RouteDef]:
        def wrap(handler: ControlHandler) -> ControlHandler:
            async def guarded(request: web.Request) -> web.StreamResponse:
                try:
                    return await handler(request)
                except ControlError as error:
                    return _json({"error": str(error)}, error.status)
                except TwilioError as error:
                    return _json({"error": error.message, "code": error.code}, error.status)

            return guarded

        return [
            web.get(f"{PREFIX}/info", wrap(self.info)),
            web.get(f"{PREFIX}/requests", wrap(self.requests)),
            web.get(f"{PREFIX}/violations", wrap(self.violations)),
            web.delete(f"{PREFIX}/violations", wrap(self.clear_violations)),
            web.get(f"{PREFIX}/state", wrap(self.state)),
            web.post(f"{PREFIX}/accounts/{{sid}}/incoming-phone-numbers", wrap(self.buy_number)),
            web.post(f"{PREFIX}/accounts/{{sid}}/short-codes", wrap(self.lease_short_code)),
            web.post(f"{PREFIX}/accounts/{{sid}}/keys", wrap(self.create_key)),
            web.post(f"{PREFIX}/services/{{sid}}/status-callbacks", wrap(self.status_callback)),
            web.post(f"{PREFIX}/accounts/{{sid}}/exports/{{type}}/days", wrap(self.archive_day)),
            web.get(f"{PREFIX}/archives/{{tail:.*}}", wrap(self.archive_file)),
            web.get(f"{PREFIX}/messages", wrap(self.messages)),
            web.get(f"{PREFIX}/routes", wrap(self.list_routes)),
            web.post(f"{PREFIX}/routes", wrap(self.add_route)),
            web.delete(f"{PREFIX}/routes", wrap(self.clear_routes)),
            web.get(f"{PREFIX}/faults", wrap(self.list_faults)),
            web.post(f"{PREFIX}/faults", wrap(self.add_fault)),
            web.delete(f"{PREFIX}/faults", wrap(self.clear_faults)),
            web.get(f"{PREFIX}/config", wrap(self.get_config)),
            web.post(f"{PREFIX}/config", wrap(self.set_config)),
            web.post(f"{PREFIX}/reset", wrap(self.reset)),
        ]

    async def info(self, request: web.Request) -> web.Response:
        return _json(self._info())

    async def requests(self, request: web.Request) -> web.Response:
        """``?since=<seq>`` → entries after it and ``next`` to pass next time; ``&wait=<s>`` long-polls."""
        try:
            since = int(request.query.get("since", "0"))
            wait = float(request.query.get("wait", "0"))
        except ValueError as error:
            raise ControlError(400, "since must be an integer and wait a number") from error
        if wait > 0:
            await self.core.log.wait_beyond(since, min(wait, 60.0))
        entries = self.core.log.since(since)
        # `next` is the newest sequence number, so polling with it never skips or repeats an entry.
        return _json({"requests": entries, "next": self.core.log.last_seq})

    async def violations(self, request: web.Request) -> web.Response:
        return _json(list(self.core.violations))

    async def clear_violations(self, request: web.Request) -> web.Response:
        self.core.violations.clear()
        return _json([])

    async def state(self, request: web.Request) -> web.Response:
        return _json(state_dump(self.core.state))

    def _account(self, request: web.Request) -> Account:
        account = self.core.state.accounts.get(request.match_info["sid"])
        if account is None:
            raise ControlError(404, f"no account {request.match_info['sid']}")
        if account.status is AccountStatus.CLOSED:
            raise ControlError(409, f"account {account.sid} is closed")
        return account

    async def buy_number(self, request: web.Request) -> web.Response:
        """``{"phone_number": "+1555…", "capabilities": {"sms": true, …}?}`` → a new IncomingPhoneNumber."""
        account = self._account(request)
        data = await _body(request)
        number = data.get("phone_number")
        if not isinstance(number, str) or not E164_RE.match(number):
            raise ControlError(400, "phone_number must be an E.164 number such as +15005550006")
        capabilities = data.get("capabilities")
        if capabilities is not None and not (
            isinstance(capabilities, dict) and all(isinstance(v, bool) for v in capabilities.values())
        ):
            raise ControlError(400, "capabilities must map voice/sms/mms/fax to booleans")
        created = self.core.state.buy_number(account.sid, number, capabilities)
        return _json({"sid": created.sid, "account_sid": account.sid, "phone_number": number}, 201)

    async def lease_short_code(self, request: web.Request) -> web.Response:
        """``{"short_code": "12345", "country_code": "US"?}`` → a new short code (SC SID) in the account."""
        account = self._account(request)
        data = await _body(request)
        digits = data.get("short_code")
        if not isinstance(digits, str) or not SHORT_CODE_RE.match(digits):
            raise ControlError(400, "short_code must be 3 to 8 digits")
        created = self.core.state.lease_short_code(account.sid, digits, str(data.get("country_code") or "US"))
        return _json({"sid": created.sid, "account_sid": account.sid, "short_code": digits}, 201)

    async def create_key(self, request: web.Request) -> web.Response:
        """A key as the Twilio Console creates it, including Main keys, which the REST API cannot create.

        ``{"type": "main"|"standard"|"restricted", "friendly_name"?, "policy"?}`` → sid and secret.
        """
        account = self._account(request)
        data = await _body(request)
        try:
            key_type = KeyType(data.get("type", "main"))
        except ValueError as error:
            raise ControlError(400, "type must be main, standard or restricted") from error
        policy = data.get("policy")
        if (key_type is KeyType.RESTRICTED) != isinstance(policy, dict):
            raise ControlError(400, "a restricted key needs a policy object; other keys take none")
        key = self.core.state.create_key(account.sid, data.get("friendly_name"), key_type, policy)
        return _json(
            {"sid": key.sid, "secret": key.secret, "account_sid": account.sid, "type": key_type}, 201
        )

    async def status_callback(self, request: web.Request) -> web.Response:
        """Deliver a message status callback for a service, signed as Twilio signs it.

        ``{"message_status": "delivered", "to": "+1…", "from"?, "error_code"?, "message_sid"?, "url"?}``;
        ``url`` stands for a message-level StatusCallback, which takes precedence over the service's.
        """
        state = self.core.state
        service = state.services.get(request.match_info["sid"])
        if service is None:
            raise ControlError(404, f"no service {request.match_info['sid']}")
        data = await _body(request)
        status = data.get("message_status")
        if status not in MESSAGE_STATUSES:
            raise ControlError(400, f"message_status must be one of {sorted(MESSAGE_STATUSES)}")
        url = data.get("url") or service.settings.get("status_callback")
        if not url:
            raise ControlError(409, f"service {service.sid} has no status_callback")
        sender = data.get("from")
        if sender is None:
            first = next(iter(service.phone_numbers), None)
            sender = state.numbers[first].phone_number if first else None
        message_sid = data.get("message_sid") or state.ids.sid("SM")
        params = {
            "AccountSid": service.account_sid,
            "MessagingServiceSid": service.sid,
            "MessageSid": message_sid,
            "SmsSid": message_sid,
            "MessageStatus": status,
            "SmsStatus": status,
            "To": str(data.get("to") or ""),
            "From": str(sender or ""),
            "ApiVersion": "2010-04-01",
        }
        if data.get("error_code") is not None:
            params["ErrorCode"] = str(data["error_code"])
        token = state.accounts[service.account_sid].auth_token
        received = await self.core.callbacks.post(url, token, params)
        return _json({"url": url, "status": received, "params": params})

    async def archive_day(self, request: web.Request) -> web.Response:
        """``{"day"?: "YYYY-MM-DD"}`` (default today, UTC): the day's archive of the account's messages is
        ready, as Twilio makes it once the day is over; the export's webhook is told."""
        account = self._account(request)
        data = await _body(request)
        day = data.get("day") or datetime.now(UTC).strftime("%Y-%m-%d")
        if not isinstance(day, str) or not DAY_RE.match(day):
            raise ControlError(400, "day must be a date such as 2026-01-31")
        ready = self.core.archive_day(account.sid, request.match_info["type"], day)
        return _json({"day": ready.day, "size": ready.size}, 201)

    async def archive_file(self, request: web.Request) -> web.Response:
        """A day's file by path, as the storage host serves it (for clients that cannot set Host)."""
        return self.core.archive_file(request.match_info["tail"])

    async def messages(self, request: web.Request) -> web.Response:
        """Every message sent, with Twilio's truth now and at the end, and what became of each callback.

        ``?since=<n>`` skips the first n messages (in sending order); no bodies or numbers are listed.
        """
        try:
            since = int(request.query.get("since", "0"))
        except ValueError as error:
            raise ControlError(400, "since must be an integer") from error
        now = time.time()
        items = list(self.core.state.messages.values())[since:]
        return _json(
            {
                "messages": [
                    {
                        "sid": m.sid,
                        "account_sid": m.account_sid,
                        "service_sid": m.service_sid,
                        "status": m.step_at(now).status,
                        "final_status": m.final.status,
                        "final_error_code": m.final.error_code,
                        "settled": m.final.at <= now - m.created,
                        "status_callback": m.status_callback,
                        "callbacks": m.callbacks,
                    }
                    for m in items
                ],
                "callbacks_in_flight": self.core.callbacks.pending,
            }
        )

    async def list_routes(self, request: web.Request) -> web.Response:
        return _json({"routes": dict(self.core.callbacks.routes)})

    async def add_route(self, request: web.Request) -> web.Response:
        """``{"host": "hooks.example.com", "target": "http://127.0.0.1:8080"}``: what an Ingress controller
        would do for that host. Callbacks to it go to the target, signed over the public URL."""
        data = await _body(request)
        host, target = data.get("host"), data.get("target")
        if not isinstance(host, str) or not host or "/" in host or ":" in host:
            raise ControlError(400, "host must be a host name such as hooks.example.com")
        if not isinstance(target, str) or self.core.callbacks.target(target) is None:
            raise ControlError(400, "target must be an http URL on loopback, e.g. http://127.0.0.1:8080")
        self.core.callbacks.routes[host.lower()] = target
        return _json({"routes": dict(self.core.callbacks.routes)}, 201)

    async def clear_routes(self, request: web.Request) -> web.Response:
        self.core.callbacks.routes.clear()
        return _json({"routes": {}})

    async def list_faults(self, request: web.Request) -> web.Response:
        return _json({"faults": [fault.as_dict() for fault in self.core.faults.list()]})

    async def add_fault(self, request: web.Request) -> web.Response:
        data = await _body(request)
        try:
            fault = self.core.faults.add(data)
        except (FaultSpecError, TypeError, ValueError) as error:
            raise ControlError(400, str(error)) from error
        return _json({"id": fault.id}, 201)

    async def clear_faults(self, request: web.Request) -> web.Response:
        self.core.faults.clear()
        return _json({"faults": []})

    async def get_config(self, request: web.Request) -> web.Response:
        return _json(self._config())

    async def set_config(self, request: web.Request) -> web.Response:
        """``{"latency"?: s, "concurrency_limit"?: n|null, "subaccount_limit"?: n, "pool_limit"?: n,
        "check_responses"?: bool, "message_time_scale"?: x, "callback_drop_rate"?: p,
        "callback_duplicate_rate"?: p, "callback_reorder_rate"?: p}``; keys left out keep their value."""
        data = await _body(request)
        settings = self.core.settings
        state = self.core.state
        try:
            if "latency" in data:
                settings.latency = max(0.0, float(data["latency"]))
            if "concurrency_limit" in data:
                limit = data["concurrency_limit"]
                settings.concurrency_limit = None if limit is None else max(1, int(limit))
            if "check_responses" in data:
                settings.check_responses = bool(data["check_responses"])
            if "subaccount_limit" in data:
                state.subaccount_limit = max(0, int(data["subaccount_limit"]))
            if "pool_limit" in data:
                state.pool_limit = max(0, int(data["pool_limit"]))
            callbacks = self.core.callbacks
            if "message_time_scale" in data:
                callbacks.time_scale = state.message_time_scale = max(
                    0.001, float(data["message_time_scale"])
                )
            for rate in ("drop_rate", "duplicate_rate", "reorder_rate"):
                if f"callback_{rate}" in data:
                    setattr(callbacks.settings, rate, min(1.0, max(0.0, float(data[f"callback_{rate}"]))))
        except (TypeError, ValueError) as error:
            raise ControlError(400, f"invalid config value: {error}") from error
        return _json(self._config())

    def _config(self) -> dict[str, Any]:
        return {
            "latency": self.core.settings.latency,
            "concurrency_limit": self.core.settings.concurrency_limit,
            "check_responses": self.core.settings.check_responses,
            "subaccount_limit": self.core.state.subaccount_limit,
            "pool_limit": self.core.state.pool_limit,
            "message_time_scale": self.core.callbacks.time_scale,
            "callback_drop_rate": self.core.callbacks.settings.drop_rate,
            "callback_duplicate_rate": self.core.callbacks.settings.duplicate_rate,
            "callback_reorder_rate": self.core.callbacks.settings.reorder_rate,
        }

    async def reset(self, request: web.Request) -> web.Response:
        self.core.reset()
        return _json(self._info())
