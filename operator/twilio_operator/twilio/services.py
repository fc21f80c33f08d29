"""External client for Messaging Services and their sender pools.

Messaging v1 acts as whoever authenticated, so every call uses the owning account's own credentials.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from . import shapes
from .errors import NotFound
from .gateway import TwilioGateway
from .observed import Observed

# The service Twilio makes in every account (twilio-data.md §3): found by this name, never deleted.
DEFAULT_SERVICE_NAME = "[Auto-generated] Default Messaging Service"

# Settings Twilio echoes back, by SDK/response name, with Twilio's default (what a removed field returns to).
SETTING_DEFAULTS: dict[str, Any] = {
    "usecase": "undeclared",
    "sticky_sender": True,
    "mms_converter": True,
    "smart_encoding": True,
    "scan_message_content": "inherit",
    "fallback_to_long_code": True,
    "area_code_geomatch": True,
    "validity_period": 36000,
    "synchronous_validation": False,
    "use_inbound_webhook_on_number": False,
    "inbound_method": "POST",
    "fallback_method": "POST",
    # Removed URLs are cleared by sending "" (the SDK drops None).
    "inbound_request_url": "",
    "fallback_url": "",
    "status_callback": "",
}


@dataclass(frozen=True)
class DesiredSenders:
    phone_numbers: frozenset[str] | None  # PN SIDs (E.164 numbers already resolved)
    short_codes: frozenset[str] | None
    alpha_senders: frozenset[str] | None


@dataclass(frozen=True)
class DesiredService:
    account_sid: str
    friendly_name: str
    # Only the fields this service manages: declared ones, and removed ones set back to Twilio's default.
    settings: dict[str, Any] = field(hash=False)
    senders: DesiredSenders = field(hash=False)


def _same(want: Any, have: Any) -> bool:
    if want == "" and have is None:
        return True
    return bool(want == have)


def _observed(service: Any) -> Observed:
    sid = shapes.sid(service, "MG", "Messaging Service")
    shapes.required(service, "Messaging Service", ("friendly_name", "account_sid"))
    created = service.date_created if isinstance(service.date_created, datetime.datetime) else None
    data = {name: getattr(service, name, None) for name in SETTING_DEFAULTS}
    data["friendly_name"] = service.friendly_name
    data["account_sid"] = service.account_sid
    return Observed(sid=sid, data=data, created_at=created)


class Services:
    adoptable = True

    def __init__(self, gateway: TwilioGateway, account_sid: str) -> None:
        self.gw = gateway
        self.account = account_sid

    async def _api(self) -> Any:
        return (await self.gw.account_client(self.account)).messaging.v1

    async def observe(self, sid: str, steady: bool = False) -> Observed:
        api = await self._api()
        service = None
        if steady:
            listed = await self.gw.listed(
                self.account, "ListService", lambda: api.services.list_async(page_size=1000)
            )
            service = listed.get(sid)
        if service is None:
            # Not listed (created since, or gone): the fetch tells which.
            service = await self.gw.call(
                self.account, "FetchService", lambda: api.services(sid).fetch_async()
            )
        return _observed(service)

    async def find(self, desired: DesiredService, since: datetime.datetime) -> list[Observed]:
        api = await self._api()
        services = await self.gw.call(self.account, "ListService", api.services.list_async)
        return [
            _observed(s)
            for s in services
            if s.friendly_name == desired.friendly_name
            and (not isinstance(s.date_created, datetime.datetime) or s.date_created >= since)
        ]

    async def create(self, desired: DesiredService) -> Observed:
        api = await self._api()
        # Defaults need not be sent on create: a new service already has them.
        values = {k: v for k, v in desired.settings.items() if v != SETTING_DEFAULTS.get(k)}
        service = await self.gw.call(
            self.account,
            "CreateService",
            lambda: api.services.create_async(friendly_name=desired.friendly_name, **values),
            idempotent=False,
        )
        return _observed(service)

    def values(self, desired: DesiredService) -> dict[str, Any]:
        senders = desired.senders
        pool = {"phone_numbers": senders.phone_numbers, "short_codes": senders.short_codes}
        return {
            "friendly_name": desired.friendly_name,
            **desired.settings,
            "senders": {**pool, "alpha_senders": senders.alpha_senders},
        }

    def differences(self, desired: DesiredService, observed: Observed) -> list[str]:
        fields = [] if observed.data["friendly_name"] == desired.friendly_name else ["friendly_name"]
        fields += [k for k, v in desired.settings.items() if not _same(v, observed.data.get(k))]
        return fields

    async def update(self, desired: DesiredService, observed: Observed, fields: list[str]) -> Observed:
        api = await self._api()
        values = {k: (desired.friendly_name if k == "friendly_name" else desired.settings[k]) for k in fields}
        service = await self.gw.call(
            self.account, "UpdateService", lambda: api.services(observed.sid).update_async(**values)
        )
        return _observed(service)

    async def delete(self, sid: str) -> None:
        api = await self._api()
        try:
            await self.gw.call(self.account, "DeleteService", lambda: api.services(sid).delete_async())
        except NotFound:
            return

    async def discard(self, orphan: Observed) -> None:
        # A duplicate from an interrupted create holds nothing yet: remove it.
        await self.delete(orphan.sid)

    # --- the sender pool ---------------------------------------------------------------------------

    async def pool(self, sid: str, kinds: set[str]) -> dict[str, dict[str, str]]:
        """The pool by kind: phone_numbers/short_codes map SID→SID, alpha_senders map text→AI SID."""
        api = await self._api()
        service = api.services(sid)
        pool: dict[str, dict[str, str]] = {}
        if "phone_numbers" in kinds:
            numbers = await self.gw.call(self.account, "ListPhoneNumber", service.phone_numbers.list_async)
            pool["phone_numbers"] = {str(n.sid): str(n.sid) for n in numbers}
        if "short_codes" in kinds:
            codes = await self.gw.call(self.account, "ListShortCode", service.short_codes.list_async)
            pool["short_codes"] = {str(c.sid): str(c.sid) for c in codes}
        if "alpha_senders" in kinds:
            alphas = await self.gw.call(self.account, "ListAlphaSender", service.alpha_senders.list_async)
            pool["alpha_senders"] = {str(a.alpha_sender): str(a.sid) for a in alphas}
        return pool

    async def add_sender(self, sid: str, kind: str, value: str) -> None:
        api = await self._api()
        service = api.services(sid)
        if kind == "phone_numbers":
            await self.gw.call(
                self.account,
                "CreatePhoneNumber",
                lambda: service.phone_numbers.create_async(phone_number_sid=value),
                idempotent=False,
            )
        elif kind == "short_codes":
            await self.gw.call(
                self.account,
                "CreateShortCode",
                lambda: service.short_codes.create_async(short_code_sid=value),
                idempotent=False,
            )
        else:
            await self.gw.call(
                self.account,
                "CreateAlphaSender",
                lambda: service.alpha_senders.create_async(alpha_sender=value),
                idempotent=False,
            )

    async def remove_sender(self, sid: str, kind: str, sender_sid: str) -> None:
        api = await self._api()
        service = api.services(sid)
        pools = {
            "phone_numbers": service.phone_numbers,
            "short_codes": service.short_codes,
            "alpha_senders": service.alpha_senders,
        }
        try:
            await self.gw.call(self.account, "DeleteSender", lambda: pools[kind](sender_sid).delete_async())
        except NotFound:
            return

    async def default_sid(self) -> str | None:
        """The account's default Messaging Service, by the name Twilio gives it (the oldest if several)."""
        api = await self._api()
        services = await self.gw.call(
            self.account, "ListService", lambda: api.services.list_async(page_size=1000)
        )
        found = [_observed(s) for s in services if s.friendly_name == DEFAULT_SERVICE_NAME]
        found.sort(key=lambda o: (o.created_at is None, str(o.created_at), o.sid))
        return found[0].sid if found else None

    async def number_sid(self, phone_number: str) -> str | None:
        """The account's IncomingPhoneNumber SID for an E.164 number, if it has that number."""
        account = self.gw.parent().api.v2010.accounts(self.account)
        numbers = await self.gw.call(
            self.account,
            "ListIncomingPhoneNumber",
            lambda: account.incoming_phone_numbers.list_async(phone_number=phone_number),
        )
        exact = [n for n in numbers if n.phone_number == phone_number]
        return str(exact[0].sid) if exact else None
