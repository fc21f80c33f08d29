"""External client for phone numbers (2010 IncomingPhoneNumbers, with the parent credentials).

A number is placed in an account by Twilio's exchange: `POST /Accounts/{losing}/IncomingPhoneNumbers/{PN}`
with `AccountSid={gaining}`, which only the parent's own credentials may make (twilio-data.md §3). The number
keeps its SID. Which accounts a number may be taken from is the caller's to decide; this client moves a number
only from where the caller found it.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from . import shapes
from .errors import NotFound, Terminal
from .gateway import TwilioGateway
from .observed import Observed

# Webhook fields Twilio echoes back (SDK/response names) with the value a removed one returns to.
SETTING_DEFAULTS: dict[str, Any] = {
    "sms_url": "",
    "sms_method": "POST",
    "sms_fallback_url": "",
    "sms_fallback_method": "POST",
    "voice_url": "",
    "voice_method": "POST",
    "voice_fallback_url": "",
    "voice_fallback_method": "POST",
    "status_callback": "",
    "status_callback_method": "POST",
}
PURCHASE_PATHS = {"Local": "local", "Mobile": "mobile", "TollFree": "toll_free"}


class NoNumberOffered(Terminal):
    """Twilio offers no number for a purchase's criteria: the spec has to change (or Twilio's stock)."""


@dataclass(frozen=True)
class DesiredPurchase:
    country: str
    type: str  # Local | Mobile | TollFree
    area_code: str | None
    contains: str | None
    capabilities: tuple[str, ...]


@dataclass(frozen=True)
class DesiredNumber:
    account_sid: str  # the account the number must be in
    phone_number: str | None  # E.164; None when bought or adopted by SID
    friendly_name: str
    # Only the fields this number manages: declared ones, and removed ones set back to Twilio's default.
    settings: dict[str, Any] = field(hash=False)
    purchase: DesiredPurchase | None = None
    # The number as found before it was placed, in the account it is moved from.
    found: Observed | None = field(default=None, compare=False)
    # Accounts the number may be found in besides its own: where it comes from, where someone moved it.
    elsewhere: tuple[str, ...] = ()


def _same(want: Any, have: Any) -> bool:
    if want == "" and have is None:
        return True
    if isinstance(want, str) and isinstance(have, str) and want.endswith("_method"):
        return want.upper() == have.upper()
    return bool(want == have)


def observed_number(number: Any) -> Observed:
    sid = shapes.sid(number, "PN", "phone number")
    shapes.required(number, "phone number", ("account_sid", "phone_number"))
    created = number.date_created if isinstance(number.date_created, datetime.datetime) else None
    data = {name: getattr(number, name, None) for name in SETTING_DEFAULTS}
    data.update(
        account_sid=number.account_sid, phone_number=number.phone_number, friendly_name=number.friendly_name
    )
    return Observed(sid=sid, data=data, created_at=created)


class Numbers:
    adoptable = True

    def __init__(self, gateway: TwilioGateway, desired: DesiredNumber) -> None:
        self.gw = gateway
        self.desired = desired
        self.account = desired.account_sid

    def _numbers(self, account: str) -> Any:
        return self.gw.parent().api.v2010.accounts(account).incoming_phone_numbers

    async def _fetch(self, account: str, sid: str) -> Observed | None:
        try:
            number = await self.gw.call(
                account, "FetchIncomingPhoneNumber", lambda: self._numbers(account)(sid).fetch_async()
            )
        except NotFound:
            return None
        return observed_number(number)

    async def observe(self, sid: str, steady: bool = False) -> Observed:
        if steady:
            listed = await self.gw.listed(
                self.account,
                "ListIncomingPhoneNumber",
                lambda: self._numbers(self.account).list_async(page_size=1000),
            )
            if sid in listed:
                return observed_number(listed[sid])
        # Where it should be first; then where it may have gone (someone moved it, or it is still on its way).
        for account in dict.fromkeys((self.account, *self.desired.elsewhere)):
            found = await self._fetch(account, sid)
            if found is not None:
                return found
        raise NotFound(f"{sid} is in none of the accounts this number may be in")

    async def locate(self, phone_number: str, accounts: tuple[str, ...]) -> Observed | None:
        """The number in the first of these accounts that holds it."""
        for account in accounts:
            found = await self._by_number(account, phone_number)
            if found is not None:
                return found
        return None

    async def _by_number(self, account: str, phone_number: str) -> Observed | None:
        numbers = await self.gw.call(
            account,
            "ListIncomingPhoneNumber",
            lambda: self._numbers(account).list_async(phone_number=phone_number),
        )
        exact = [n for n in numbers if n.phone_number == phone_number]
        return observed_number(exact[0]) if exact else None

    async def find(self, desired: DesiredNumber, since: datetime.datetime) -> list[Observed]:
        """What an interrupted placement may have done: the number already in its account, or a number bought
        there under this object's friendly name."""
        if desired.phone_number is not None:
            found = await self._by_number(self.account, desired.phone_number)
            return [found] if found is not None else []
        if desired.purchase is None:
            return []
        numbers = await self.gw.call(
            self.account,
            "ListIncomingPhoneNumber",
            lambda: self._numbers(self.account).list_async(friendly_name=desired.friendly_name),
        )
        return [
            observed_number(n)
            for n in numbers
            if n.friendly_name == desired.friendly_name
            and (not isinstance(n.date_created, datetime.datetime) or n.date_created >= since)
        ]

    async def create(self, desired: DesiredNumber) -> Observed:
        """Buy the number, or move it from where the caller found it into its account, with its name and
        webhooks in the same call."""
        if desired.purchase is not None:
            return await self._buy(desired, desired.purchase)
        found = desired.found
        if found is None:
            raise NoNumberOffered("no phoneNumber and no purchase: nothing to place")
        if found.data["account_sid"] == self.account:
            return found
        return await self._exchange(found, self._changes(desired, self.differences(desired, found)))

    async def _buy(self, desired: DesiredNumber, purchase: DesiredPurchase) -> Observed:
        country = self.gw.parent().api.v2010.accounts(self.account).available_phone_numbers(purchase.country)
        search = getattr(country, PURCHASE_PATHS[purchase.type])
        criteria: dict[str, Any] = {f"{c}_enabled": True for c in purchase.capabilities}
        if purchase.area_code:
            criteria["area_code"] = int(purchase.area_code)
        if purchase.contains:
            criteria["contains"] = purchase.contains
        offered = await self.gw.call(
            self.account,
            f"ListAvailablePhoneNumber{purchase.type}",
            lambda: search.list_async(limit=5, page_size=5, **criteria),
        )
        if not offered:
            raise NoNumberOffered(f"Twilio offers no {purchase.type} number for these criteria")
        wanted = str(offered[0].phone_number)
        values = {k: v for k, v in desired.settings.items() if v != SETTING_DEFAULTS.get(k)}
        number = await self.gw.call(
            self.account,
            "CreateIncomingPhoneNumber",
            lambda: self._numbers(self.account).create_async(
                phone_number=wanted, friendly_name=desired.friendly_name, **values
            ),
            idempotent=False,
        )
        return observed_number(number)

    async def _exchange(self, number: Observed, changes: dict[str, Any]) -> Observed:
        losing = str(number.data["account_sid"])
        moved = await self.gw.call(
            losing,
            "UpdateIncomingPhoneNumber",
            lambda: self._numbers(losing)(number.sid).update_async(account_sid=self.account, **changes),
        )
        # The gaining account changed: listings taken of it before are stale.
        self.gw.wrote(self.account)
        return observed_number(moved)

    def values(self, desired: DesiredNumber) -> dict[str, Any]:
        return {
            "account_sid": desired.account_sid,
            "friendly_name": desired.friendly_name,
            **desired.settings,
        }

    def differences(self, desired: DesiredNumber, observed: Observed) -> list[str]:
        fields = [] if observed.data["account_sid"] == desired.account_sid else ["account_sid"]
        if observed.data["friendly_name"] != desired.friendly_name:
            fields.append("friendly_name")
        fields += [k for k, v in desired.settings.items() if not _same(v, observed.data.get(k))]
        return fields

    async def update(self, desired: DesiredNumber, observed: Observed, fields: list[str]) -> Observed:
        changes = self._changes(desired, fields)
        if "account_sid" in fields:
            # The kind's check() refused numbers held by accounts they may not be taken from.
            return await self._exchange(observed, changes)
        number = await self.gw.call(
            self.account,
            "UpdateIncomingPhoneNumber",
            lambda: self._numbers(self.account)(observed.sid).update_async(**changes),
        )
        return observed_number(number)

    @staticmethod
    def _changes(desired: DesiredNumber, fields: list[str]) -> dict[str, Any]:
        """The update parameters for these fields (the account is the exchange's own)."""
        return {
            k: (desired.friendly_name if k == "friendly_name" else desired.settings[k])
            for k in fields
            if k != "account_sid"
        }

    async def move(self, sid: str, losing: str, gaining: str) -> None:
        """Exchange a number the operator placed (deletion: back to the parent); absent is fine."""
        try:
            await self.gw.call(
                losing,
                "UpdateIncomingPhoneNumber",
                lambda: self._numbers(losing)(sid).update_async(account_sid=gaining),
            )
        except NotFound:
            return

    async def release(self, sid: str, account: str) -> None:
        """Give the number up, which cannot be undone; absent is fine."""
        try:
            await self.gw.call(
                account, "DeleteIncomingPhoneNumber", lambda: self._numbers(account)(sid).delete_async()
            )
        except NotFound:
            return

    async def discard(self, orphan: Observed) -> None:
        # A second number bought by an interrupted purchase is given up (it is the object's own, and it costs
        # money); a number found by its E.164 is never anyone's extra.
        if self.desired.purchase is not None:
            await self.release(orphan.sid, self.account)
