"""api.twilio.com/2010-04-01: Accounts, Keys, IncomingPhoneNumbers, SMS ShortCodes and Messages."""

from __future__ import annotations

import itertools
import operator
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar

from .auth import Principal
from .calls import Call, Handler, Reply, friendly_name
from .errors import TwilioError, authenticate, invalid_parameter, not_found
from .formats import E164_RE, rfc2822, utcnow
from .messages import ERROR_MESSAGES, SentMessage
from .paging import Page, page_2010, page_request, paginate
from .state import Account, AccountStatus, ApiKey, IncomingNumber, ShortCode

API = "/2010-04-01"
T = TypeVar("T")
_SUBRESOURCES = {
    "available_phone_numbers": "AvailablePhoneNumbers",
    "calls": "Calls",
    "conferences": "Conferences",
    "incoming_phone_numbers": "IncomingPhoneNumbers",
    "notifications": "Notifications",
    "outgoing_caller_ids": "OutgoingCallerIds",
    "recordings": "Recordings",
    "transcriptions": "Transcriptions",
    "addresses": "Addresses",
    "signing_keys": "SigningKeys",
    "connect_apps": "ConnectApps",
    "sip": "SIP",
    "authorized_connect_apps": "AuthorizedConnectApps",
    "usage": "Usage",
    "keys": "Keys",
    "applications": "Applications",
    "short_codes": "SMS/ShortCodes",
    "queues": "Queues",
    "messages": "Messages",
    "balance": "Balance",
}


# -- Accounts ------------------------------------------------------------------------------------------------


def account_json(account: Account, caller: Principal) -> dict[str, Any]:
    base = f"{API}/Accounts/{account.sid}"
    return {
        # Only an Auth Token caller sees auth tokens; a report says Main-key callers get none
        # (RJPearson94/terraform-provider-twilio#52).
        "auth_token": account.auth_token if caller.key_type is None else None,
        "date_created": rfc2822(account.date_created),
        "date_updated": rfc2822(account.date_updated),
        "friendly_name": account.friendly_name,
        "owner_account_sid": account.owner_sid,
        "sid": account.sid,
        "status": account.status.value,
        "subresource_uris": {name: f"{base}/{path}.json" for name, path in _SUBRESOURCES.items()},
        "type": "Full",
        "uri": f"{base}.json",
    }


def _visible_account(call: Call) -> Account:
    """An account the caller may see: itself or one of its subaccounts; anything else is "not found"."""
    account = call.state.accounts.get(call.path_params["Sid"])
    caller = call.principal.account
    if account is None or caller.sid not in (account.sid, account.owner_sid):
        raise not_found(call.path)
    return account


def create_account(call: Call) -> Reply:
    account = call.state.create_subaccount(call.principal.account, friendly_name(call))
    return Reply(201, account_json(account, call.principal))


def list_accounts(call: Call) -> Reply:
    accounts = call.state.visible_accounts(call.principal.account)
    if "FriendlyName" in call.query:
        accounts = [a for a in accounts if a.friendly_name == call.query["FriendlyName"]]
    if "Status" in call.query:
        accounts = [a for a in accounts if a.status.value == call.query["Status"]]
    return _page(call, "accounts", accounts, lambda a: a.sid, lambda a: account_json(a, call.principal))


def fetch_account(call: Call) -> Reply:
    return Reply(200, account_json(_visible_account(call), call.principal))


def update_account(call: Call) -> Reply:
    account = _visible_account(call)
    name = friendly_name(call)
    status = call.form.get("Status")
    if status is not None:
        if account.is_parent:
            raise TwilioError(400, 21477, "Cannot update the status of a parent account")
        if account.sid == call.principal.account.sid:
            raise authenticate(detail="Only the parent account can change a subaccount's status")
        call.state.set_account_status(account, AccountStatus(status))
    if name is not None and name != account.friendly_name:
        account.friendly_name = name
        account.date_updated = utcnow()
    return Reply(200, account_json(account, call.principal))


# -- Keys ----------------------------------------------------------------------------------------------------


def key_json(key: ApiKey) -> dict[str, Any]:
    return {
        "sid": key.sid,
        "friendly_name": key.friendly_name,
        "date_created": rfc2822(key.date_created),
        "date_updated": rfc2822(key.date_updated),
    }


def create_key(call: Call) -> Reply:
    key = call.state.create_key(call.account.sid, friendly_name(call))
    # The secret appears in this response only; fetch and list never return it.
    return Reply(201, {**key_json(key), "secret": key.secret})


def list_keys(call: Call) -> Reply:
    return _page(call, "keys", list(call.state.account_keys(call.account.sid)), lambda k: k.sid, key_json)


def fetch_key(call: Call) -> Reply:
    return Reply(200, key_json(call.state.key_of(call.account.sid, call.path_params["Sid"], call.path)))


def update_key(call: Call) -> Reply:
    key = call.state.key_of(call.account.sid, call.path_params["Sid"], call.path)
    name = friendly_name(call)
    if name is not None and name != key.friendly_name:
        key.friendly_name = name
        key.date_updated = utcnow()
    return Reply(200, key_json(key))


def delete_key(call: Call) -> Reply:
    call.state.delete_key(call.state.key_of(call.account.sid, call.path_params["Sid"], call.path))
    return Reply(204)


# -- IncomingPhoneNumbers (bought, updated, exchanged, released) and SMS ShortCodes (read-only) --------------


def number_json(number: IncomingNumber) -> dict[str, Any]:
    return {
        **number.settings,
        "account_sid": number.account_sid,
        "address_sid": None,
        "address_requirements": "none",
        "api_version": "2010-04-01",
        "beta": False,
        "capabilities": dict(number.capabilities),
        "date_created": rfc2822(number.date_created),
        "date_updated": rfc2822(number.date_updated),
        "friendly_name": number.friendly_name,
        "identity_sid": None,
        "phone_number": number.phone_number,
        "origin": "twilio",
        "sid": number.sid,
        "sms_application_sid": None,
        "trunk_sid": None,
        "uri": f"{API}/Accounts/{number.account_sid}/IncomingPhoneNumbers/{number.sid}.json",
        "voice_receive_mode": "voice",
        "voice_application_sid": None,
        "voice_caller_id_lookup": False,
        "emergency_status": "Inactive",
        "emergency_address_sid": None,
        "emergency_address_status": "unregistered",
        "bundle_sid": None,
        "status": "in-use",
    }


def short_code_json(code: ShortCode) -> dict[str, Any]:
    return {
        "account_sid": code.account_sid,
        "api_version": "2010-04-01",
        "date_created": rfc2822(code.date_created),
        "date_updated": rfc2822(code.date_updated),
        "friendly_name": code.friendly_name,
        "short_code": code.short_code,
        "sid": code.sid,
        "sms_fallback_method": "POST",
        "sms_fallback_url": None,
        "sms_method": "POST",
        "sms_url": None,
        "uri": f"{API}/Accounts/{code.account_sid}/SMS/ShortCodes/{code.sid}.json",
    }


def digits_pattern(pattern: str) -> re.Pattern[str]:
    """Twilio's number filter: a partial number, with ``*`` standing for any one digit."""
    return re.compile("".join("[0-9]" if char == "*" else re.escape(char) for char in pattern))


def list_numbers(call: Call) -> Reply:
    numbers = list(call.state.account_numbers(call.account.sid))
    if "PhoneNumber" in call.query:
        wanted = digits_pattern(call.query["PhoneNumber"])
        numbers = [n for n in numbers if wanted.search(n.phone_number)]
    if "FriendlyName" in call.query:
        numbers = [n for n in numbers if n.friendly_name == call.query["FriendlyName"]]
    return _page(call, "incoming_phone_numbers", numbers, lambda n: n.sid, number_json)


def fetch_number(call: Call) -> Reply:
    return Reply(200, number_json(call.state.number_of(call.account.sid, call.path_params["Sid"], call.path)))


# Form parameter -> the number's field it sets (UpdateIncomingPhoneNumber and the create of a purchase).
NUMBER_FIELDS = {
    "FriendlyName": "friendly_name",
    "SmsUrl": "sms_url",
    "SmsMethod": "sms_method",
    "SmsFallbackUrl": "sms_fallback_url",
    "SmsFallbackMethod": "sms_fallback_method",
    "VoiceUrl": "voice_url",
    "VoiceMethod": "voice_method",
    "VoiceFallbackUrl": "voice_fallback_url",
    "VoiceFallbackMethod": "voice_fallback_method",
    "StatusCallback": "status_callback",
    "StatusCallbackMethod": "status_callback_method",
}


def _number_changes(call: Call) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for param, name in NUMBER_FIELDS.items():
        raw = call.form.get(param)
        if raw is None:
            continue
        if name == "friendly_name":
            changes[name] = friendly_name(call)
        elif name.endswith("_method"):
            changes[name] = raw.upper()
        else:
            # "" clears a URL (the SDK drops None).
            changes[name] = raw or None
    return changes


def create_number(call: Call) -> Reply:
    """Buy a number into the path's account: the one named, or the first available in AreaCode."""
    form = call.form
    wanted = form.get("PhoneNumber")
    if wanted is None and form.get("AreaCode") is None:
        raise invalid_parameter("PhoneNumber or AreaCode is required", code=21451)
    if wanted is None:
        wanted = next(call.state.available_numbers("US", "Local", form["AreaCode"], None), None)
        if wanted is None:
            raise invalid_parameter(f"No phone numbers found in area code {form['AreaCode']}", code=21452)
    elif not E164_RE.match(wanted):
        raise invalid_parameter(f"{wanted} is not a valid phone number", code=21421)
    changes = _number_changes(call)
    name = changes.pop("friendly_name", None)
    number = call.state.buy_number(call.account.sid, wanted, friendly_name=name, settings=changes)
    return Reply(201, number_json(number))


def update_number(call: Call) -> Reply:
    number = call.state.number_of(call.account.sid, call.path_params["Sid"], call.path)
    gaining_sid = call.form.get("AccountSid")
    if gaining_sid is not None and gaining_sid != number.account_sid:
        caller = call.principal.account
        # The exchange between a parent and its subaccounts (or two siblings) takes the parent's own
        # credentials (twilio/twilio-ruby#160).
        if not caller.is_parent or call.principal.key_type is not None:
            raise invalid_parameter("API user must be the parent account to transfer phone numbers", 20003)
        gaining = call.state.accounts.get(gaining_sid)
        if gaining is None or caller.sid not in (gaining.sid, gaining.owner_sid):
            raise invalid_parameter(f"AccountSid {gaining_sid} is not this parent or one of its subaccounts")
        if gaining.status is not AccountStatus.ACTIVE:
            raise invalid_parameter(f"Account {gaining_sid} is not active", code=20005)
        call.state.move_number(number, gaining)
    call.state.update_number(number, _number_changes(call))
    return Reply(200, number_json(number))


def release_number(call: Call) -> Reply:
    call.state.release_number(call.state.number_of(call.account.sid, call.path_params["Sid"], call.path))
    return Reply(204)


def _available_json(phone_number: str, country: str) -> dict[str, Any]:
    return {
        "friendly_name": phone_number,  # the spec types it phone-number, unlike an owned number's
        "phone_number": phone_number,
        "lata": None,
        "locality": None,
        "rate_center": None,
        "latitude": None,
        "longitude": None,
        "region": None,
        "postal_code": None,
        "iso_country": country,
        "address_requirements": "none",
        "beta": False,
        "capabilities": {"voice": True, "sms": True, "mms": True, "fax": False},
    }


def available_numbers(number_type: str) -> Handler:
    """AvailablePhoneNumbers/{CountryCode}/{Local,Mobile,TollFree}.json: a page of numbers one could buy."""

    def search(call: Call) -> Reply:
        country = call.path_params["CountryCode"]
        contains = digits_pattern(call.query["Contains"]) if "Contains" in call.query else None
        request = page_request(call.query)
        found = itertools.islice(
            call.state.available_numbers(country, number_type, call.query.get("AreaCode"), contains),
            request.page_size,
        )
        records = [_available_json(number, country) for number in found]
        page = Page(records, request, 0, None, None)
        return Reply(200, page_2010("available_phone_numbers", page, call.path, call.filters))

    return search


def list_short_codes(call: Call) -> Reply:
    codes = list(call.state.account_short_codes(call.account.sid))
    if "ShortCode" in call.query:
        wanted = digits_pattern(call.query["ShortCode"])
        codes = [c for c in codes if wanted.search(c.short_code)]
    if "FriendlyName" in call.query:
        codes = [c for c in codes if c.friendly_name == call.query["FriendlyName"]]
    return _page(call, "short_codes", codes, lambda c: c.sid, short_code_json)


def fetch_short_code(call: Call) -> Reply:
    code = call.state.short_codes.get(call.path_params["Sid"])
    if code is None or code.account_sid != call.account.sid:
        raise not_found(call.path)
    return Reply(200, short_code_json(code))


# -- Messages ------------------------------------------------------------------------------------------------


def message_json(message: SentMessage, now: float | None = None) -> dict[str, Any]:
    step = message.step_at(now)
    base = f"{API}/Accounts/{message.account_sid}/Messages/{message.sid}"
    created = datetime.fromtimestamp(message.created, UTC).replace(microsecond=0)
    sent_at = message.sent_at(now)
    updated = message.created + step.at
    return {
        "account_sid": message.account_sid,
        "api_version": "2010-04-01",
        "body": message.body,
        "date_created": rfc2822(created),
        "date_sent": rfc2822(datetime.fromtimestamp(sent_at, UTC)) if sent_at else None,
        "date_updated": rfc2822(datetime.fromtimestamp(updated, UTC)),
        "direction": "outbound-api",
        "error_code": step.error_code,
        "error_message": ERROR_MESSAGES.get(step.error_code) if step.error_code else None,
        "from": message.sender,
        "messaging_service_sid": message.service_sid,
        "num_media": "0",
        "num_segments": "1",
        "price": None,
        "price_unit": "USD",
        "sid": message.sid,
        "status": step.status,
        "subresource_uris": {"media": f"{base}/Media.json", "feedback": f"{base}/Feedback.json"},
        "to": message.to,
        "uri": f"{base}.json",
    }


def create_message(call: Call) -> Reply:
    form = call.form
    to = form["To"]
    if not E164_RE.match(to):
        raise invalid_parameter(f"The 'To' number {to} is not a valid phone number.", code=21211)
    if not (form.get("Body") or form.get("MediaUrl") or form.get("ContentSid")):
        raise invalid_parameter("Message body is required.", code=21602)
    service = None
    if form.get("MessagingServiceSid"):
        service = call.state.services.get(form["MessagingServiceSid"])
        if service is None or service.account_sid != call.account.sid:
            raise invalid_parameter("The Messaging Service Sid is invalid.", code=21701)
    sender = form.get("From") or None
    if service is None and sender is None:
        raise invalid_parameter("A 'From' phone number is required.", code=21603)
    owned = {n.phone_number for n in call.state.account_numbers(call.account.sid)}
    if service is not None:
        owned |= {a.alpha_sender for a in service.alpha_senders.values()}
    if sender is not None and sender not in owned:
        raise invalid_parameter(
            f"The From phone number {sender} is not a valid, SMS-capable inbound phone number or short "
            "code for your account.",
            code=21606,
        )
    message = call.state.send_message(
        call.account, to, form.get("Body", ""), service, sender, form.get("StatusCallback") or None
    )
    # The answer to the create is the message as it was made (its first status), however busy the machine.
    return Reply(201, message_json(message, now=message.created))


def list_messages(call: Call) -> Reply:
    """The account's messages, newest first as Twilio lists them, filtered by To, From and DateSent."""
    messages = [m for m in call.state.messages.values() if m.account_sid == call.account.sid]
    if "To" in call.query:
        messages = [m for m in messages if m.to == call.query["To"]]
    if "From" in call.query:
        messages = [m for m in messages if m.sender == call.query["From"]]
    for name, keep in (("DateSent", operator.eq), ("DateSent<", operator.le), ("DateSent>", operator.ge)):
        if name in call.query:
            wanted = call.query[name][:10]
            messages = [m for m in messages if (sent := m.sent_at()) is not None and keep(_day(sent), wanted)]
    page = paginate(
        messages,
        lambda m: m.sid,
        call.state.order_of,
        page_request(call.query),
        message_json,
        newest_first=True,
    )
    return Reply(200, page_2010("messages", page, call.path, call.filters))


def _day(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d")


def fetch_message(call: Call) -> Reply:
    message = call.state.messages.get(call.path_params["Sid"])
    if message is None or message.account_sid != call.account.sid:
        raise not_found(call.path)
    return Reply(200, message_json(message))


def _page(
    call: Call,
    key: str,
    items: Iterable[T],
    sid_of: Callable[[T], str],
    render: Callable[[T], dict[str, Any]],
) -> Reply:
    page = paginate(list(items), sid_of, call.state.order_of, page_request(call.query), render)
    return Reply(200, page_2010(key, page, call.path, call.filters))


HANDLERS: dict[str, Handler] = {
    "CreateAccount": create_account,
    "ListAccount": list_accounts,
    "FetchAccount": fetch_account,
    "UpdateAccount": update_account,
    "CreateNewKey": create_key,
    "ListKey": list_keys,
    "FetchKey": fetch_key,
    "UpdateKey": update_key,
    "DeleteKey": delete_key,
    "ListIncomingPhoneNumber": list_numbers,
    "FetchIncomingPhoneNumber": fetch_number,
    "CreateIncomingPhoneNumber": create_number,
    "UpdateIncomingPhoneNumber": update_number,
    "DeleteIncomingPhoneNumber": release_number,
    "ListAvailablePhoneNumberLocal": available_numbers("Local"),
    "ListAvailablePhoneNumberMobile": available_numbers("Mobile"),
    "ListAvailablePhoneNumberTollFree": available_numbers("TollFree"),
    "ListShortCode": list_short_codes,
    "FetchShortCode": fetch_short_code,
    "CreateMessage": create_message,
    "ListMessage": list_messages,
    "FetchMessage": fetch_message,
}
