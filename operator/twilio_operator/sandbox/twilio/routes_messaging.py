"""messaging.twilio.com/v1: Messaging Services and their sender pools.

A service belongs to the account whose credential created it; v1 URLs carry no account, so every call
acts on the credential's account and a service of another account is simply not found.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .calls import Call, Handler, Reply, friendly_name, page_v1_reply
from .errors import invalid_parameter, missing_parameter, not_found
from .formats import iso8601, utcnow
from .state import AlphaSender, PoolEntry, Service

FieldKind = Literal["text", "url", "bool", "int"]

# Form parameter -> (response field, how the wire value is read). The same set is writable on create and
# update (twilio-api.md §3).
SERVICE_FIELDS: Mapping[str, tuple[str, FieldKind]] = {
    "FriendlyName": ("friendly_name", "text"),
    "InboundRequestUrl": ("inbound_request_url", "url"),
    "InboundMethod": ("inbound_method", "text"),
    "FallbackUrl": ("fallback_url", "url"),
    "FallbackMethod": ("fallback_method", "text"),
    "StatusCallback": ("status_callback", "url"),
    "StickySender": ("sticky_sender", "bool"),
    "MmsConverter": ("mms_converter", "bool"),
    "SmartEncoding": ("smart_encoding", "bool"),
    "ScanMessageContent": ("scan_message_content", "text"),
    "FallbackToLongCode": ("fallback_to_long_code", "bool"),
    "AreaCodeGeomatch": ("area_code_geomatch", "bool"),
    "ValidityPeriod": ("validity_period", "int"),
    "SynchronousValidation": ("synchronous_validation", "bool"),
    "Usecase": ("usecase", "text"),
    "UseInboundWebhookOnNumber": ("use_inbound_webhook_on_number", "bool"),
}

VALIDITY_RANGE = (1, 36000)
_ALPHA_RE = re.compile(r"^[A-Za-z0-9 +\-_&]{1,11}$")
_LINKS = {
    "phone_numbers": "PhoneNumbers",
    "short_codes": "ShortCodes",
    "alpha_senders": "AlphaSenders",
    "messages": "Messages",
    "us_app_to_person": "Compliance/Usa2p",
    "us_app_to_person_usecases": "Compliance/Usa2p/Usecases",
    "channel_senders": "ChannelSenders",
    "destination_alpha_senders": "DestinationAlphaSenders",
}


def _settings_from_form(call: Call, *, creating: bool) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    name = friendly_name(call, required=True)
    if name is not None:
        settings["friendly_name"] = name
    elif creating:
        raise missing_parameter("FriendlyName")
    for param, (attr, kind) in SERVICE_FIELDS.items():
        raw = call.form.get(param)
        if raw is None or param == "FriendlyName":
            continue
        if kind == "url":
            # An empty value clears the URL: the SDK drops None, so "" is the only way to unset one.
            settings[attr] = raw or None
        elif kind == "bool":
            settings[attr] = raw == "true"
        elif kind == "int":
            value = int(raw)
            low, high = VALIDITY_RANGE
            if not low <= value <= high:
                raise invalid_parameter(
                    f"ValidityPeriod must be between {low} and {high} seconds, got {value}"
                )
            settings[attr] = value
        else:
            settings[attr] = raw
    return settings


def service_url(base: str, service_sid: str) -> str:
    return f"{base}/v1/Services/{service_sid}"


def service_json(service: Service, base: str) -> dict[str, Any]:
    url = service_url(base, service.sid)
    return {
        "sid": service.sid,
        "account_sid": service.account_sid,
        **service.settings,
        "date_created": iso8601(service.date_created),
        "date_updated": iso8601(service.date_updated),
        "url": url,
        "links": {name: f"{url}/{path}" for name, path in _LINKS.items()},
    }


def _service(call: Call, key: str = "ServiceSid") -> Service:
    return call.state.service_of(call.account.sid, call.path_params[key], call.path)


def create_service(call: Call) -> Reply:
    service = call.state.create_service(call.account.sid, _settings_from_form(call, creating=True))
    return Reply(201, service_json(service, call.public_base))


def list_services(call: Call) -> Reply:
    services = list(call.state.account_services(call.account.sid))
    return page_v1_reply(
        call, "services", services, lambda s: s.sid, lambda s: service_json(s, call.public_base)
    )


def fetch_service(call: Call) -> Reply:
    return Reply(200, service_json(_service(call, "Sid"), call.public_base))


def update_service(call: Call) -> Reply:
    service = _service(call, "Sid")
    changes = _settings_from_form(call, creating=False)
    if any(service.settings.get(k) != v for k, v in changes.items()):
        service.settings.update(changes)
        service.date_updated = utcnow()
    return Reply(200, service_json(service, call.public_base))


def delete_service(call: Call) -> Reply:
    call.state.delete_service(_service(call, "Sid"))
    return Reply(204)


# -- sender pool ---------------------------------------------------------------------------------------------


def _capabilities(flags: Mapping[str, bool]) -> list[str]:
    names = {"mms": "MMS", "sms": "SMS", "voice": "Voice", "fax": "Fax"}
    return [label for key, label in names.items() if flags.get(key)]


def phone_number_json(call: Call, service: Service, entry: PoolEntry) -> dict[str, Any]:
    number = call.state.numbers[entry.sid]
    return {
        "sid": entry.sid,
        "account_sid": service.account_sid,
        "service_sid": service.sid,
        "date_created": iso8601(entry.date_created),
        "date_updated": iso8601(entry.date_created),
        "phone_number": number.phone_number,
        "country_code": number.country_code,
        "capabilities": _capabilities(number.capabilities),
        "url": f"{service_url(call.public_base, service.sid)}/PhoneNumbers/{entry.sid}",
    }


def short_code_json(call: Call, service: Service, entry: PoolEntry) -> dict[str, Any]:
    code = call.state.short_codes[entry.sid]
    return {
        "sid": entry.sid,
        "account_sid": service.account_sid,
        "service_sid": service.sid,
        "date_created": iso8601(entry.date_created),
        "date_updated": iso8601(entry.date_created),
        "short_code": code.short_code,
        "country_code": code.country_code,
        "capabilities": ["SMS", "MMS"],
        "url": f"{service_url(call.public_base, service.sid)}/ShortCodes/{entry.sid}",
    }


def alpha_sender_json(call: Call, sender: AlphaSender) -> dict[str, Any]:
    return {
        "sid": sender.sid,
        "account_sid": sender.account_sid,
        "service_sid": sender.service_sid,
        "date_created": iso8601(sender.date_created),
        "date_updated": iso8601(sender.date_updated),
        "alpha_sender": sender.alpha_sender,
        "capabilities": ["SMS"],
        "url": f"{service_url(call.public_base, sender.service_sid)}/AlphaSenders/{sender.sid}",
    }


def add_phone_number(call: Call) -> Reply:
    service = _service(call)
    entry = call.state.add_number_to_service(service, call.form["PhoneNumberSid"], call.path)
    return Reply(201, phone_number_json(call, service, entry))


def add_short_code(call: Call) -> Reply:
    service = _service(call)
    entry = call.state.add_short_code_to_service(service, call.form["ShortCodeSid"], call.path)
    return Reply(201, short_code_json(call, service, entry))


def add_alpha_sender(call: Call) -> Reply:
    service = _service(call)
    alpha = call.form["AlphaSender"]
    # Up to 11 of A-Z a-z 0-9 space + - _ &, and not only digits (it would read as a phone number).
    if not _ALPHA_RE.match(alpha) or alpha.isdigit():
        raise invalid_parameter(f"Invalid AlphaSender {alpha!r}: up to 11 letters, digits, spaces or + - _ &")
    return Reply(201, alpha_sender_json(call, call.state.add_alpha_sender(service, alpha)))


@dataclass(frozen=True)
class Pool:
    """One kind of sender in a service's pool: its list key, where the service keeps it, how it renders."""

    key: str
    members: Callable[[Service], Mapping[str, Any]]
    render: Callable[[Call, Service, Any], dict[str, Any]]

    def list(self, call: Call) -> Reply:
        service = _service(call)
        entries = list(self.members(service).values())
        return page_v1_reply(
            call, self.key, entries, lambda e: e.sid, lambda e: self.render(call, service, e)
        )

    def fetch(self, call: Call) -> Reply:
        service = _service(call)
        entry = self.members(service).get(call.path_params["Sid"])
        if entry is None:
            raise not_found(call.path)
        return Reply(200, self.render(call, service, entry))

    def remove(self, call: Call) -> Reply:
        service = _service(call)
        if call.path_params["Sid"] not in self.members(service):
            raise not_found(call.path)
        call.state.remove_sender(service, call.path_params["Sid"])
        return Reply(204)


POOLS = {
    "PhoneNumber": Pool("phone_numbers", lambda s: s.phone_numbers, phone_number_json),
    "ShortCode": Pool("short_codes", lambda s: s.short_codes, short_code_json),
    "AlphaSender": Pool(
        "alpha_senders", lambda s: s.alpha_senders, lambda call, _, a: alpha_sender_json(call, a)
    ),
}


HANDLERS: dict[str, Handler] = {
    "CreateService": create_service,
    "ListService": list_services,
    "FetchService": fetch_service,
    "UpdateService": update_service,
    "DeleteService": delete_service,
    "CreatePhoneNumber": add_phone_number,
    "CreateShortCode": add_short_code,
    "CreateAlphaSender": add_alpha_sender,
    **{
        f"{verb}{kind}": getattr(pool, method)
        for kind, pool in POOLS.items()
        for verb, method in (("List", "list"), ("Fetch", "fetch"), ("Delete", "remove"))
    },
}
