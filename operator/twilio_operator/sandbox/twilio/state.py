"""The emulator's data: accounts, API keys, Messaging Services with their senders, numbers and short codes.

All mutation happens in plain synchronous methods called from one event loop, so every API call is atomic
with respect to the others, as a single Twilio request is. Collections are dicts in creation order, indexed
by account, so no operation's cost grows with the number of requests served.
"""

from __future__ import annotations

import enum
import random
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .errors import TwilioError, invalid_parameter, not_found
from .events import EventStreams
from .formats import IdFactory, utcnow
from .messages import SentMessage, timeline
from .usage import ExportConfiguration, UsageTrigger

DEFAULT_SUBACCOUNT_LIMIT = 1000
DEFAULT_POOL_LIMIT = 400
# The service Twilio creates in every account (since April 2024, twilio-data.md §3); messages sent without a
# MessagingServiceSid go through it.
DEFAULT_SERVICE_NAME = "[Auto-generated] Default Messaging Service"

# Server-side defaults. The method defaults and ValidityPeriod come from the spec's text; the booleans are
# what a plain create returns according to twilio-api.md §3 (partly unverified against a real account).
SERVICE_DEFAULTS: Mapping[str, Any] = {
    "inbound_request_url": None,
    "inbound_method": "POST",
    "fallback_url": None,
    "fallback_method": "POST",
    "status_callback": None,
    "sticky_sender": True,
    "mms_converter": True,
    "smart_encoding": True,
    "scan_message_content": "inherit",
    "fallback_to_long_code": True,
    "area_code_geomatch": True,
    "validity_period": 36000,
    "synchronous_validation": False,
    "usecase": "undeclared",
    "use_inbound_webhook_on_number": False,
    "us_app_to_person_registered": False,
}

# A number's webhook settings (response field names) and their values on a new number.
NUMBER_DEFAULTS: Mapping[str, Any] = {
    "sms_url": None,
    "sms_method": "POST",
    "sms_fallback_url": None,
    "sms_fallback_method": "POST",
    "voice_url": None,
    "voice_method": "POST",
    "voice_fallback_url": None,
    "voice_fallback_method": "POST",
    "status_callback": None,
    "status_callback_method": "POST",
}

# Twilio's country of a number, by calling code. Longest prefix wins; anything unknown reports "US".
_COUNTRY_BY_PREFIX = {
    "+1": "US",
    "+44": "GB",
    "+49": "DE",
    "+33": "FR",
    "+34": "ES",
    "+39": "IT",
    "+31": "NL",
    "+46": "SE",
    "+61": "AU",
    "+64": "NZ",
    "+353": "IE",
    "+55": "BR",
    "+52": "MX",
    "+91": "IN",
    "+81": "JP",
}


_PREFIX_BY_COUNTRY = {country: prefix for prefix, country in _COUNTRY_BY_PREFIX.items()}
# Area codes AvailablePhoneNumbers offers in the US and Canada when none is asked for.
_AREAS = ("415", "628", "510", "212", "646", "312", "206", "512")
_TOLL_FREE = ("833", "844", "855", "866", "877", "888")


class AccountStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    CLOSED = "closed"


class KeyType(enum.StrEnum):
    MAIN = "main"
    STANDARD = "standard"
    RESTRICTED = "restricted"


@dataclass
class Account:
    sid: str
    auth_token: str
    friendly_name: str
    owner_sid: str
    status: AccountStatus
    date_created: datetime
    date_updated: datetime

    @property
    def is_parent(self) -> bool:
        return self.owner_sid == self.sid


@dataclass
class ApiKey:
    sid: str
    account_sid: str
    friendly_name: str
    secret: str
    type: KeyType
    policy: dict[str, Any] | None
    date_created: datetime
    date_updated: datetime


@dataclass
class IncomingNumber:
    sid: str
    account_sid: str
    phone_number: str
    friendly_name: str
    capabilities: dict[str, bool]
    date_created: datetime
    date_updated: datetime
    service_sid: str | None = None
    settings: dict[str, Any] = field(default_factory=lambda: dict(NUMBER_DEFAULTS))

    @property
    def country_code(self) -> str:
        for length in (4, 3, 2):
            country = _COUNTRY_BY_PREFIX.get(self.phone_number[:length])
            if country:
                return country
        return "US"


@dataclass
class ShortCode:
    sid: str
    account_sid: str
    short_code: str
    friendly_name: str
    date_created: datetime
    date_updated: datetime
    country_code: str = "US"
    service_sid: str | None = None


@dataclass
class AlphaSender:
    sid: str
    account_sid: str
    service_sid: str
    alpha_sender: str
    date_created: datetime
    date_updated: datetime


@dataclass
class PoolEntry:
    """A number or short code in a service's sender pool; the link has its own creation date."""

    sid: str
    date_created: datetime


@dataclass
class Service:
    sid: str
    account_sid: str
    settings: dict[str, Any]
    date_created: datetime
    date_updated: datetime
    phone_numbers: dict[str, PoolEntry] = field(default_factory=dict)
    short_codes: dict[str, PoolEntry] = field(default_factory=dict)
    alpha_senders: dict[str, AlphaSender] = field(default_factory=dict)

    @property
    def pool_size(self) -> int:
        return len(self.phone_numbers) + len(self.short_codes)


class TwilioState:
    """Every Twilio object the emulator knows, with the indexes the API calls need."""

    def __init__(self, seed: int = 0) -> None:
        self.ids = IdFactory(seed)
        self.subaccount_limit = DEFAULT_SUBACCOUNT_LIMIT
        self.pool_limit = DEFAULT_POOL_LIMIT
        self.accounts: dict[str, Account] = {}
        self.keys: dict[str, ApiKey] = {}
        self.services: dict[str, Service] = {}
        self.numbers: dict[str, IncomingNumber] = {}
        self.short_codes: dict[str, ShortCode] = {}
        self._subaccounts: dict[str, dict[str, Account]] = {}
        self._keys_by_account: dict[str, dict[str, ApiKey]] = {}
        self._services_by_account: dict[str, dict[str, Service]] = {}
        self._numbers_by_account: dict[str, dict[str, IncomingNumber]] = {}
        self._short_codes_by_account: dict[str, dict[str, ShortCode]] = {}
        self._number_by_e164: dict[str, str] = {}
        self._short_code_by_digits: dict[str, str] = {}
        self.events = EventStreams(self.ids, self._new_sid)
        self.messages: dict[str, SentMessage] = {}
        self.triggers: dict[str, UsageTrigger] = {}
        # Message (and other) exports per account and resource type: their configuration and ready days.
        self.exports: dict[tuple[str, str], ExportConfiguration] = {}
        self._message_rng = random.Random(seed ^ 0x5E13)
        # Set by the emulator: plans a new message's status callbacks (asynchronous, so not done here).
        self.on_message: Callable[[SentMessage, str | None, str], None] | None = None
        # Set by the emulator: an account's usage triggers changed, so they look at its usage now.
        self.on_usage: Callable[[str], None] | None = None
        self.message_time_scale = 1.0
        # Creation order of every SID ever issued, deleted ones included, so a page token naming a record
        # deleted since keeps working as a cursor.
        self._order: dict[str, int] = {}
        self.parent = self._new_account("My first Twilio account", owner_sid=None)

    # -- SIDs and ordering -------------------------------------------------------------------------------

    def new_sid(self, prefix: str) -> str:
        """A SID no object ever had, in creation order (routes of other modules make objects too)."""
        return self._new_sid(prefix)

    def _new_sid(self, prefix: str) -> str:
        sid = self.ids.sid(prefix)
        while sid in self._order:
            sid = self.ids.sid(prefix)
        self._order[sid] = len(self._order)
        return sid

    def order_of(self, sid: str) -> int | None:
        return self._order.get(sid)

    # -- accounts ------------------------------------------------------------------------------------------

    def _new_account(self, friendly_name: str, owner_sid: str | None) -> Account:
        sid = self._new_sid("AC")
        now = utcnow()
        account = Account(
            sid=sid,
            auth_token=self.ids.auth_token(),
            friendly_name=friendly_name,
            owner_sid=owner_sid or sid,
            status=AccountStatus.ACTIVE,
            date_created=now,
            date_updated=now,
        )
        self.accounts[sid] = account
        self._subaccounts[sid] = {}
        self._keys_by_account[sid] = {}
        self._services_by_account[sid] = {}
        self._numbers_by_account[sid] = {}
        self._short_codes_by_account[sid] = {}
        if owner_sid is not None:
            self._subaccounts[owner_sid][sid] = account
        self.create_service(sid, {"friendly_name": DEFAULT_SERVICE_NAME})
        return account

    def default_service(self, account_sid: str) -> Service | None:
        """The account's auto-generated service, unless someone deleted it."""
        for service in self._services_by_account[account_sid].values():
            if service.settings.get("friendly_name") == DEFAULT_SERVICE_NAME:
                return service
        return None

    def create_subaccount(self, owner: Account, friendly_name: str | None) -> Account:
        if not owner.is_parent:
            raise invalid_parameter("Subaccounts cannot contain subaccounts", code=21101)
        if len(self._subaccounts[owner.sid]) >= self.subaccount_limit:
            raise invalid_parameter(
                f"Reached the maximum number of subaccounts ({self.subaccount_limit})", code=21480
            )
        if friendly_name is None:
            now = utcnow()
            friendly_name = f"SubAccount Created at {now:%Y-%m-%d %I:%M} {'am' if now.hour < 12 else 'pm'}"
        return self._new_account(friendly_name, owner_sid=owner.sid)

    def subaccounts(self, owner_sid: str) -> Iterable[Account]:
        return self._subaccounts[owner_sid].values()

    def visible_accounts(self, account: Account) -> list[Account]:
        """What ``GET /Accounts.json`` lists: the caller itself, then its subaccounts, closed ones too."""
        return [account, *self._subaccounts[account.sid].values()]

    def set_account_status(self, account: Account, status: AccountStatus) -> None:
        if account.status is AccountStatus.CLOSED:
            if status is AccountStatus.CLOSED:
                return
            raise TwilioError(400, 21479, f"Subaccount {account.sid} is closed and cannot be re-opened")
        if status is account.status:
            return
        account.status = status
        account.date_updated = utcnow()
        if status is AccountStatus.CLOSED:
            self._release_numbers(account.sid)

    def _release_numbers(self, account_sid: str) -> None:
        # Closing an account releases its numbers and short codes, which also takes them out of any pool.
        for number in list(self._numbers_by_account[account_sid].values()):
            self._unlink_sender(number.service_sid, number.sid)
            del self.numbers[number.sid]
            del self._number_by_e164[number.phone_number]
        self._numbers_by_account[account_sid].clear()
        for code in list(self._short_codes_by_account[account_sid].values()):
            self._unlink_sender(code.service_sid, code.sid)
            del self.short_codes[code.sid]
            del self._short_code_by_digits[code.short_code]
        self._short_codes_by_account[account_sid].clear()

    # -- keys ------------------------------------------------------------------------------------------------

    def create_key(
        self,
        account_sid: str,
        friendly_name: str | None,
        key_type: KeyType = KeyType.STANDARD,
        policy: dict[str, Any] | None = None,
    ) -> ApiKey:
        now = utcnow()
        key = ApiKey(
            sid=self._new_sid("SK"),
            account_sid=account_sid,
            friendly_name=friendly_name or "",
            secret=self.ids.secret(),
            type=key_type,
            policy=policy,
            date_created=now,
            date_updated=now,
        )
        self.keys[key.sid] = key
        self._keys_by_account[account_sid][key.sid] = key
        return key

    def account_keys(self, account_sid: str) -> Iterable[ApiKey]:
        return self._keys_by_account[account_sid].values()

    def key_of(self, account_sid: str, sid: str, path: str) -> ApiKey:
        key = self._keys_by_account[account_sid].get(sid)
        if key is None:
            raise not_found(path)
        return key

    def delete_key(self, key: ApiKey) -> None:
        del self.keys[key.sid]
        del self._keys_by_account[key.account_sid][key.sid]

    # -- numbers and short codes (bought through the test-control API) -------------------------------------

    def buy_number(
        self,
        account_sid: str,
        phone_number: str,
        capabilities: dict[str, bool] | None = None,
        friendly_name: str | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> IncomingNumber:
        if phone_number in self._number_by_e164:
            raise TwilioError(409, 21422, f"Phone number {phone_number} is already in use")
        now = utcnow()
        number = IncomingNumber(
            sid=self._new_sid("PN"),
            account_sid=account_sid,
            phone_number=phone_number,
            friendly_name=friendly_name or friendly_number(phone_number),
            capabilities=capabilities or {"voice": True, "sms": True, "mms": True, "fax": False},
            date_created=now,
            date_updated=now,
            settings={**NUMBER_DEFAULTS, **(settings or {})},
        )
        self.numbers[number.sid] = number
        self._numbers_by_account[account_sid][number.sid] = number
        self._number_by_e164[phone_number] = number.sid
        return number

    def account_numbers(self, account_sid: str) -> Iterable[IncomingNumber]:
        return self._numbers_by_account[account_sid].values()

    def number_of(self, account_sid: str, sid: str, path: str) -> IncomingNumber:
        number = self._numbers_by_account[account_sid].get(sid)
        if number is None:
            raise not_found(path)
        return number

    def available_numbers(
        self, country: str, number_type: str, area_code: str | None, contains: re.Pattern[str] | None
    ) -> Iterator[str]:
        """Numbers nobody holds, in a stable order: what AvailablePhoneNumbers offers for a search."""
        prefix = _PREFIX_BY_COUNTRY.get(country)
        if prefix is None:
            return
        if prefix == "+1":
            areas = [area_code] if area_code else (_TOLL_FREE if number_type == "TollFree" else _AREAS)
            candidates = (f"+1{area}555{line:04d}" for area in areas for line in range(100, 10000))
        else:
            lead = "7" if number_type == "Mobile" else "20"
            candidates = (f"{prefix}{lead}{area_code or ''}{line:07d}" for line in range(100, 10100))
        for candidate in candidates:
            if candidate not in self._number_by_e164 and (contains is None or contains.search(candidate)):
                yield candidate

    def update_number(self, number: IncomingNumber, changes: Mapping[str, Any]) -> None:
        changed = False
        for name, value in changes.items():
            if name == "friendly_name":
                changed |= number.friendly_name != value
                number.friendly_name = value
            else:
                changed |= number.settings.get(name) != value
                number.settings[name] = value
        if changed:
            number.date_updated = utcnow()

    def move_number(self, number: IncomingNumber, gaining: Account) -> None:
        """Twilio's exchange: the number, with its SID and settings, now belongs to the gaining account. It
        leaves the losing account's Messaging Service (services are per account)."""
        if number.account_sid == gaining.sid:
            return
        self._unlink_sender(number.service_sid, number.sid)
        del self._numbers_by_account[number.account_sid][number.sid]
        number.account_sid = gaining.sid
        self._numbers_by_account[gaining.sid][number.sid] = number
        number.date_updated = utcnow()

    def release_number(self, number: IncomingNumber) -> None:
        self._unlink_sender(number.service_sid, number.sid)
        del self._numbers_by_account[number.account_sid][number.sid]
        del self.numbers[number.sid]
        del self._number_by_e164[number.phone_number]

    def lease_short_code(self, account_sid: str, digits: str, country_code: str = "US") -> ShortCode:
        if digits in self._short_code_by_digits:
            raise TwilioError(409, 21422, f"Short code {digits} is already in use")
        now = utcnow()
        code = ShortCode(
            sid=self._new_sid("SC"),
            account_sid=account_sid,
            short_code=digits,
            friendly_name=digits,
            date_created=now,
            date_updated=now,
            country_code=country_code,
        )
        self.short_codes[code.sid] = code
        self._short_codes_by_account[account_sid][code.sid] = code
        self._short_code_by_digits[digits] = code.sid
        return code

    def account_short_codes(self, account_sid: str) -> Iterable[ShortCode]:
        return self._short_codes_by_account[account_sid].values()

    # -- messaging services ------------------------------------------------------------------------------

    def create_service(self, account_sid: str, settings: dict[str, Any]) -> Service:
        """A new service with ``settings`` (response field names) over Twilio's defaults."""
        now = utcnow()
        service = Service(
            sid=self._new_sid("MG"),
            account_sid=account_sid,
            settings={**SERVICE_DEFAULTS, **settings},
            date_created=now,
            date_updated=now,
        )
        self.services[service.sid] = service
        self._services_by_account[account_sid][service.sid] = service
        return service

    def account_services(self, account_sid: str) -> Iterable[Service]:
        return self._services_by_account[account_sid].values()

    def service_of(self, account_sid: str, sid: str, path: str) -> Service:
        service = self._services_by_account[account_sid].get(sid)
        if service is None:
            raise not_found(path)
        return service

    def delete_service(self, service: Service) -> None:
        # Deleting a service frees its numbers and short codes for use in another service.
        for sid in service.phone_numbers:
            self.numbers[sid].service_sid = None
        for sid in service.short_codes:
            self.short_codes[sid].service_sid = None
        del self.services[service.sid]
        del self._services_by_account[service.account_sid][service.sid]

    def add_number_to_service(self, service: Service, number_sid: str, path: str) -> PoolEntry:
        number = self._numbers_by_account[service.account_sid].get(number_sid)
        if number is None:
            # A number of another account is as unknown to this account as one that does not exist.
            raise not_found(path)
        if not (number.capabilities.get("sms") or number.capabilities.get("mms")):
            raise invalid_parameter(f"Phone Number {number_sid} has no SMS or MMS capability", code=21715)
        self._check_pool(service, number_sid, number.service_sid)
        number.service_sid = service.sid
        entry = PoolEntry(sid=number_sid, date_created=utcnow())
        service.phone_numbers[number_sid] = entry
        return entry

    def add_short_code_to_service(self, service: Service, code_sid: str, path: str) -> PoolEntry:
        code = self._short_codes_by_account[service.account_sid].get(code_sid)
        if code is None:
            raise not_found(path)
        self._check_pool(service, code_sid, code.service_sid)
        code.service_sid = service.sid
        entry = PoolEntry(sid=code_sid, date_created=utcnow())
        service.short_codes[code_sid] = entry
        return entry

    def _check_pool(self, service: Service, sender_sid: str, current_service: str | None) -> None:
        if current_service == service.sid:
            raise TwilioError(409, 21710, "Phone Number or Short Code is already in the Messaging Service.")
        if current_service is not None:
            raise TwilioError(
                409,
                21712,
                f"Phone Number or Short Code {sender_sid} is associated with another Messaging Service",
            )
        if service.pool_size >= self.pool_limit:
            raise TwilioError(412, 21714, f"Number Pool size limit ({self.pool_limit}) reached")

    def remove_sender(self, service: Service, sender_sid: str) -> None:
        self._unlink_sender(service.sid, sender_sid)

    def _unlink_sender(self, service_sid: str | None, sender_sid: str) -> None:
        service = self.services.get(service_sid) if service_sid else None
        if service is None:
            return
        if service.phone_numbers.pop(sender_sid, None) is not None:
            self.numbers[sender_sid].service_sid = None
        elif service.short_codes.pop(sender_sid, None) is not None:
            self.short_codes[sender_sid].service_sid = None
        else:
            service.alpha_senders.pop(sender_sid, None)

    def add_alpha_sender(self, service: Service, alpha: str) -> AlphaSender:
        if any(existing.alpha_sender == alpha for existing in service.alpha_senders.values()):
            raise TwilioError(409, 21710, "Alpha Sender is already in the Messaging Service.")
        now = utcnow()
        sender = AlphaSender(
            sid=self._new_sid("AI"),
            account_sid=service.account_sid,
            service_sid=service.sid,
            alpha_sender=alpha,
            date_created=now,
            date_updated=now,
        )
        service.alpha_senders[sender.sid] = sender
        return sender

    # -- messages ----------------------------------------------------------------------------------------

    def sender_of(self, service: Service) -> str | None:
        """The sender a service picks: its first number, else short code, else alpha sender."""
        for sid in service.phone_numbers:
            return self.numbers[sid].phone_number
        for sid in service.short_codes:
            return self.short_codes[sid].short_code
        for alpha in service.alpha_senders.values():
            return alpha.alpha_sender
        return None

    def send_message(
        self,
        account: Account,
        to: str,
        body: str,
        service: Service | None,
        sender: str | None,
        status_callback: str | None,
    ) -> SentMessage:
        """A new outbound message with its whole fate decided now (seeded); its callbacks are planned."""
        if service is None:
            # Twilio routes a message sent without a service through the account's default service.
            service = self.default_service(account.sid)
            via_default = service is not None
        else:
            via_default = False
            sender = sender or self.sender_of(service)
        steps = timeline(
            self._message_rng,
            via_service=service is not None and not via_default,
            has_sender=sender is not None,
            scale=self.message_time_scale,
        )
        message = SentMessage(
            sid=self._new_sid("SM"),
            account_sid=account.sid,
            service_sid=service.sid if service else None,
            sender=sender,
            to=to,
            body=body,
            status_callback=status_callback or (service.settings.get("status_callback") if service else None),
            created=time.time(),
            steps=steps,
        )
        self.messages[message.sid] = message
        if self.on_message is not None:
            self.on_message(message, message.status_callback, account.auth_token)
        return message


def friendly_number(phone_number: str) -> str:
    # Twilio's default friendly name of a NANP number is "(808) 925-5327"; other numbers keep E.164.
    digits = phone_number[2:]
    if phone_number.startswith("+1") and len(digits) == 10:
        return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
    return phone_number
