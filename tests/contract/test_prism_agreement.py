"""The emulator and Prism, both fed Twilio's official OpenAPI subsets, accept and reject the same requests.

Prism (npm ``@stoplight/prism-cli@5.14.2``) is an independent implementation of OpenAPI request validation.
Each case goes to a fresh emulator (with real objects behind every SID in the path) and to one Prism mock per
spec file; both must accept (2xx) or both must reject. Where Twilio enforces a rule its spec does not
declare, the emulator follows Twilio and Prism cannot know better: those cases are listed in ``EXCEPTIONS``
with the Twilio documentation that justifies them, and the test asserts the difference itself, so a case
that stops differing is noticed too.

Prism is installed under ``.cache/prism`` when missing. This test fails (it does not skip) when Prism cannot
be installed or started: the contract check it provides is not optional.
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from twilio_operator.sandbox.twilio import TwilioEmulator
from twilio_operator.sandbox.twilio.contract import HOSTNAMES, SPEC_DIR, SPEC_FILES
from twilio_operator.sandbox.twilio.formats import utcnow
from twilio_operator.sandbox.twilio.usage import ExportConfiguration, UsageTrigger, archive

pytestmark = pytest.mark.prism

ROOT = Path(__file__).resolve().parents[2]
PRISM_DIR = ROOT / ".cache" / "prism"
PRISM_BIN = PRISM_DIR / "node_modules" / ".bin" / "prism"
PRISM_PACKAGE = "@stoplight/prism-cli@5.14.2"
STARTUP_TIMEOUT = 90.0

POLICY = json.dumps({"allow": ["/twilio/messaging/services/read"]})
EVERY_SERVICE_FIELD = {
    "FriendlyName": "every field",
    "InboundRequestUrl": "https://hooks.example.com/in",
    "InboundMethod": "GET",
    "FallbackUrl": "https://hooks.example.com/fb",
    "FallbackMethod": "POST",
    "StatusCallback": "https://hooks.example.com/status",
    "StickySender": "true",
    "MmsConverter": "false",
    "SmartEncoding": "true",
    "ScanMessageContent": "inherit",
    "FallbackToLongCode": "false",
    "AreaCodeGeomatch": "true",
    "ValidityPeriod": "14400",
    "SynchronousValidation": "false",
    "Usecase": "marketing",
    "UseInboundWebhookOnNumber": "false",
}

WEBHOOK_SINK = json.dumps(
    {"destination": "https://hooks.example.com/twilio/events", "method": "POST", "batch_events": True}
)
KINESIS_SINK = json.dumps(
    {
        "arn": "arn:aws:kinesis:us-east-1:111111111111:stream/twilio",
        "role_arn": "arn:aws:iam::111111111111:role/twilio",
        "external_id": "prism",
    }
)

TRIGGER = {
    "CallbackUrl": "https://hooks.example.com/twilio/usage",
    "TriggerValue": "500",
    "UsageCategory": "totalprice",
    "TriggerBy": "price",
    "Recurring": "monthly",
    "FriendlyName": "monthly-spend",
}
SEND_VIA_SERVICE = {"To": "+14155550199", "MessagingServiceSid": "{svc}", "Body": "hi"}


@dataclass(frozen=True)
class Case:
    id: str
    host: str
    method: str
    path: str
    # A mapping, or pairs where a field repeats (Event Streams' Types).
    data: Mapping[str, str] | Sequence[tuple[str, str]] | None = None
    params: Mapping[str, str] | None = None
    # "accept" or "reject", what both must do (unless the case is an exception).
    both: str = "accept"
    auth: bool = True
    json_body: Any = None


@dataclass(frozen=True)
class Difference:
    """A documented Twilio rule outside the spec: the emulator follows Twilio, Prism the bare spec."""

    emulator: str
    prism: str
    reference: str


CASES = [
    # -- api.twilio.com/2010-04-01 ---------------------------------------------------------------------------
    Case("create-account", "api", "POST", "/2010-04-01/Accounts.json", {"FriendlyName": "prism"}),
    Case("create-account-empty-body", "api", "POST", "/2010-04-01/Accounts.json", {}),
    Case("create-account-long-name", "api", "POST", "/2010-04-01/Accounts.json", {"FriendlyName": "x" * 65}),
    Case(
        "list-accounts",
        "api",
        "GET",
        "/2010-04-01/Accounts.json",
        params={"Status": "active", "PageSize": "10"},
    ),
    Case(
        "list-accounts-bad-status",
        "api",
        "GET",
        "/2010-04-01/Accounts.json",
        params={"Status": "paused"},
        both="reject",
    ),
    Case(
        "list-accounts-page-size-1001",
        "api",
        "GET",
        "/2010-04-01/Accounts.json",
        params={"PageSize": "1001"},
        both="reject",
    ),
    Case(
        "list-accounts-page-size-text",
        "api",
        "GET",
        "/2010-04-01/Accounts.json",
        params={"PageSize": "ten"},
        both="reject",
    ),
    Case(
        "list-accounts-bad-page-token",
        "api",
        "GET",
        "/2010-04-01/Accounts.json",
        params={"PageToken": "garbage"},
    ),
    Case("fetch-account", "api", "GET", "/2010-04-01/Accounts/{sub}.json"),
    Case("fetch-account-bad-sid", "api", "GET", "/2010-04-01/Accounts/ACnot.json", both="reject"),
    Case("rename-account", "api", "POST", "/2010-04-01/Accounts/{sub}.json", {"FriendlyName": "renamed"}),
    Case("suspend-account", "api", "POST", "/2010-04-01/Accounts/{sub}.json", {"Status": "suspended"}),
    Case(
        "account-bad-status",
        "api",
        "POST",
        "/2010-04-01/Accounts/{sub}.json",
        {"Status": "paused"},
        both="reject",
    ),
    Case("create-key", "api", "POST", "/2010-04-01/Accounts/{sub}/Keys.json", {"FriendlyName": "k"}),
    Case(
        "create-key-bad-account-sid", "api", "POST", "/2010-04-01/Accounts/AC12/Keys.json", {}, both="reject"
    ),
    Case("list-keys", "api", "GET", "/2010-04-01/Accounts/{sub}/Keys.json"),
    Case("fetch-key", "api", "GET", "/2010-04-01/Accounts/{sub}/Keys/{key}.json"),
    Case("fetch-key-bad-sid", "api", "GET", "/2010-04-01/Accounts/{sub}/Keys/SKbad.json", both="reject"),
    Case("update-key", "api", "POST", "/2010-04-01/Accounts/{sub}/Keys/{key}.json", {"FriendlyName": "k2"}),
    Case("delete-key", "api", "DELETE", "/2010-04-01/Accounts/{sub}/Keys/{key}.json"),
    Case(
        "find-number",
        "api",
        "GET",
        "/2010-04-01/Accounts/{sub}/IncomingPhoneNumbers.json",
        params={"PhoneNumber": "+14155550100"},
    ),
    Case(
        "find-number-wildcard",
        "api",
        "GET",
        "/2010-04-01/Accounts/{sub}/IncomingPhoneNumbers.json",
        params={"PhoneNumber": "415555****"},
    ),
    Case("fetch-number", "api", "GET", "/2010-04-01/Accounts/{sub}/IncomingPhoneNumbers/{pn}.json"),
    Case(
        "fetch-number-bad-sid",
        "api",
        "GET",
        "/2010-04-01/Accounts/{sub}/IncomingPhoneNumbers/PN1.json",
        both="reject",
    ),
    Case(
        "search-local-numbers",
        "api",
        "GET",
        "/2010-04-01/Accounts/{sub}/AvailablePhoneNumbers/US/Local.json",
        params={"AreaCode": "628", "Contains": "555*", "SmsEnabled": "true"},
    ),
    Case(
        "search-numbers-bad-flag",
        "api",
        "GET",
        "/2010-04-01/Accounts/{sub}/AvailablePhoneNumbers/US/Local.json",
        params={"SmsEnabled": "maybe"},
        both="reject",
    ),
    Case(
        "search-toll-free", "api", "GET", "/2010-04-01/Accounts/{sub}/AvailablePhoneNumbers/US/TollFree.json"
    ),
    Case(
        "buy-number",
        "api",
        "POST",
        "/2010-04-01/Accounts/{sub}/IncomingPhoneNumbers.json",
        {"PhoneNumber": "+16285550177", "FriendlyName": "bought", "SmsUrl": "https://hooks.example.com/sms"},
    ),
    Case(
        "buy-number-in-area-code",
        "api",
        "POST",
        "/2010-04-01/Accounts/{sub}/IncomingPhoneNumbers.json",
        {"AreaCode": "628"},
    ),
    Case(
        "number-webhooks",
        "api",
        "POST",
        "/2010-04-01/Accounts/{sub}/IncomingPhoneNumbers/{pn}.json",
        {
            "FriendlyName": "support",
            "SmsUrl": "https://hooks.example.com/sms",
            "SmsMethod": "GET",
            "SmsFallbackUrl": "https://hooks.example.com/fb",
            "StatusCallback": "https://hooks.example.com/status",
            "StatusCallbackMethod": "POST",
        },
    ),
    Case(
        "number-bad-method",
        "api",
        "POST",
        "/2010-04-01/Accounts/{sub}/IncomingPhoneNumbers/{pn}.json",
        {"SmsMethod": "PUT"},
        both="reject",
    ),
    Case(
        "exchange-number",
        "api",
        "POST",
        "/2010-04-01/Accounts/{parent}/IncomingPhoneNumbers/{parent_pn}.json",
        {"AccountSid": "{sub}"},
    ),
    Case(
        "exchange-number-bad-account",
        "api",
        "POST",
        "/2010-04-01/Accounts/{parent}/IncomingPhoneNumbers/{parent_pn}.json",
        {"AccountSid": "AC12"},
        both="reject",
    ),
    Case("release-number", "api", "DELETE", "/2010-04-01/Accounts/{sub}/IncomingPhoneNumbers/{pn}.json"),
    Case("list-short-codes", "api", "GET", "/2010-04-01/Accounts/{sub}/SMS/ShortCodes.json"),
    Case("fetch-short-code", "api", "GET", "/2010-04-01/Accounts/{sub}/SMS/ShortCodes/{sc}.json"),
    Case(
        "fetch-short-code-bad-sid",
        "api",
        "GET",
        "/2010-04-01/Accounts/{sub}/SMS/ShortCodes/SC1.json",
        both="reject",
    ),
    Case("send-message-service", "api", "POST", "/2010-04-01/Accounts/{sub}/Messages.json", SEND_VIA_SERVICE),
    Case(
        "send-message-from-number",
        "api",
        "POST",
        "/2010-04-01/Accounts/{sub}/Messages.json",
        {
            "To": "+14155550199",
            "From": "+14155550100",
            "Body": "hi",
            "StatusCallback": "https://h.example.com/s",
        },
    ),
    Case(
        "send-message-no-to",
        "api",
        "POST",
        "/2010-04-01/Accounts/{sub}/Messages.json",
        {"From": "+14155550100", "Body": "hi"},
        both="reject",
    ),
    Case(
        "send-message-callback-not-a-url",
        "api",
        "POST",
        "/2010-04-01/Accounts/{sub}/Messages.json",
        {**SEND_VIA_SERVICE, "StatusCallback": "not a url"},
        both="reject",
    ),
    Case(
        "send-message-bad-service-sid",
        "api",
        "POST",
        "/2010-04-01/Accounts/{sub}/Messages.json",
        {**SEND_VIA_SERVICE, "MessagingServiceSid": "MG1"},
        both="reject",
    ),
    Case(
        "send-message-no-body",
        "api",
        "POST",
        "/2010-04-01/Accounts/{sub}/Messages.json",
        {"To": "+14155550199", "MessagingServiceSid": "{svc}"},
    ),
    Case(
        "send-message-no-sender",
        "api",
        "POST",
        "/2010-04-01/Accounts/{sub}/Messages.json",
        {"To": "+14155550199", "Body": "hi"},
    ),
    Case("fetch-message", "api", "GET", "/2010-04-01/Accounts/{sub}/Messages/{sm}.json"),
    Case(
        "list-messages",
        "api",
        "GET",
        "/2010-04-01/Accounts/{sub}/Messages.json",
        params={"PageSize": "50", "DateSent>": "2026-01-01T00:00:00Z", "To": "+14155550199"},
    ),
    Case(
        "fetch-message-bad-sid", "api", "GET", "/2010-04-01/Accounts/{sub}/Messages/SM1.json", both="reject"
    ),
    Case("no-credentials", "api", "GET", "/2010-04-01/Accounts.json", auth=False, both="reject"),
    # -- messaging.twilio.com/v1 -----------------------------------------------------------------------------
    Case("create-service", "messaging", "POST", "/v1/Services", {"FriendlyName": "svc"}),
    Case("create-service-every-field", "messaging", "POST", "/v1/Services", EVERY_SERVICE_FIELD),
    Case(
        "create-service-unknown-field",
        "messaging",
        "POST",
        "/v1/Services",
        {"FriendlyName": "x", "Colour": "red"},
    ),
    Case(
        "create-service-no-friendly-name",
        "messaging",
        "POST",
        "/v1/Services",
        {"StatusCallback": "https://hooks.example.com/s"},
        both="reject",
    ),
    Case("create-service-empty-body", "messaging", "POST", "/v1/Services", {}),
    Case(
        "bad-inbound-method",
        "messaging",
        "POST",
        "/v1/Services",
        {"FriendlyName": "x", "InboundMethod": "PUT"},
        both="reject",
    ),
    Case(
        "lowercase-method",
        "messaging",
        "POST",
        "/v1/Services",
        {"FriendlyName": "x", "FallbackMethod": "post"},
        both="reject",
    ),
    Case(
        "validity-not-integer",
        "messaging",
        "POST",
        "/v1/Services",
        {"FriendlyName": "x", "ValidityPeriod": "abc"},
        both="reject",
    ),
    Case(
        "validity-fraction",
        "messaging",
        "POST",
        "/v1/Services",
        {"FriendlyName": "x", "ValidityPeriod": "1.5"},
        both="reject",
    ),
    Case(
        "validity-negative",
        "messaging",
        "POST",
        "/v1/Services",
        {"FriendlyName": "x", "ValidityPeriod": "-5"},
    ),
    Case(
        "validity-above-range",
        "messaging",
        "POST",
        "/v1/Services",
        {"FriendlyName": "x", "ValidityPeriod": "36001"},
    ),
    Case(
        "boolean-yes",
        "messaging",
        "POST",
        "/v1/Services",
        {"FriendlyName": "x", "StickySender": "yes"},
        both="reject",
    ),
    Case(
        "boolean-capitalised",
        "messaging",
        "POST",
        "/v1/Services",
        {"FriendlyName": "x", "MmsConverter": "True"},
        both="reject",
    ),
    Case(
        "scan-bad-enum",
        "messaging",
        "POST",
        "/v1/Services",
        {"FriendlyName": "x", "ScanMessageContent": "on"},
        both="reject",
    ),
    Case(
        "callback-not-a-url",
        "messaging",
        "POST",
        "/v1/Services",
        {"FriendlyName": "x", "StatusCallback": "not a url"},
        both="reject",
    ),
    Case(
        "callback-relative",
        "messaging",
        "POST",
        "/v1/Services",
        {"FriendlyName": "x", "FallbackUrl": "/relative"},
        both="reject",
    ),
    Case("clear-callback", "messaging", "POST", "/v1/Services/{svc}", {"StatusCallback": ""}),
    Case("json-body", "messaging", "POST", "/v1/Services", json_body={"FriendlyName": "x"}, both="reject"),
    Case("list-services", "messaging", "GET", "/v1/Services", params={"PageSize": "20"}),
    Case(
        "list-services-page-size-2000",
        "messaging",
        "GET",
        "/v1/Services",
        params={"PageSize": "2000"},
        both="reject",
    ),
    Case("list-services-bad-page-token", "messaging", "GET", "/v1/Services", params={"PageToken": "zzz"}),
    Case("fetch-service", "messaging", "GET", "/v1/Services/{svc}"),
    Case("fetch-service-bad-sid", "messaging", "GET", "/v1/Services/MGbad", both="reject"),
    Case(
        "update-service",
        "messaging",
        "POST",
        "/v1/Services/{svc}",
        {"FriendlyName": "y", "AreaCodeGeomatch": "false"},
    ),
    Case("update-service-every-field", "messaging", "POST", "/v1/Services/{svc}", EVERY_SERVICE_FIELD),
    Case("update-service-nothing", "messaging", "POST", "/v1/Services/{svc}", {}),
    Case(
        "update-service-bad-sid",
        "messaging",
        "POST",
        "/v1/Services/MG12",
        {"FriendlyName": "y"},
        both="reject",
    ),
    Case("delete-service", "messaging", "DELETE", "/v1/Services/{svc}"),
    Case("put-service", "messaging", "PUT", "/v1/Services/{svc}", both="reject"),
    Case("add-number", "messaging", "POST", "/v1/Services/{svc}/PhoneNumbers", {"PhoneNumberSid": "{pn}"}),
    Case(
        "add-number-bad-sid",
        "messaging",
        "POST",
        "/v1/Services/{svc}/PhoneNumbers",
        {"PhoneNumberSid": "PNbad"},
        both="reject",
    ),
    Case("add-number-empty-body", "messaging", "POST", "/v1/Services/{svc}/PhoneNumbers", {}),
    Case("list-numbers", "messaging", "GET", "/v1/Services/{svc}/PhoneNumbers"),
    Case("fetch-number-in-pool", "messaging", "GET", "/v1/Services/{svc}/PhoneNumbers/{pooled_pn}"),
    Case("remove-number", "messaging", "DELETE", "/v1/Services/{svc}/PhoneNumbers/{pooled_pn}"),
    Case("add-short-code", "messaging", "POST", "/v1/Services/{svc}/ShortCodes", {"ShortCodeSid": "{sc}"}),
    Case(
        "add-short-code-bad-sid",
        "messaging",
        "POST",
        "/v1/Services/{svc}/ShortCodes",
        {"ShortCodeSid": "SC"},
        both="reject",
    ),
    Case("list-short-codes-in-pool", "messaging", "GET", "/v1/Services/{svc}/ShortCodes"),
    Case("fetch-short-code-in-pool", "messaging", "GET", "/v1/Services/{svc}/ShortCodes/{pooled_sc}"),
    Case("remove-short-code", "messaging", "DELETE", "/v1/Services/{svc}/ShortCodes/{pooled_sc}"),
    Case("add-alpha-sender", "messaging", "POST", "/v1/Services/{svc}/AlphaSenders", {"AlphaSender": "ACME"}),
    Case("add-alpha-sender-empty-body", "messaging", "POST", "/v1/Services/{svc}/AlphaSenders", {}),
    Case(
        "add-alpha-sender-bad-chars",
        "messaging",
        "POST",
        "/v1/Services/{svc}/AlphaSenders",
        {"AlphaSender": "no!pe"},
    ),
    Case("list-alpha-senders", "messaging", "GET", "/v1/Services/{svc}/AlphaSenders"),
    Case("fetch-alpha-sender", "messaging", "GET", "/v1/Services/{svc}/AlphaSenders/{ai}"),
    Case("remove-alpha-sender", "messaging", "DELETE", "/v1/Services/{svc}/AlphaSenders/{ai}"),
    # -- iam.twilio.com/v1 -----------------------------------------------------------------------------------
    Case("iam-create-key", "iam", "POST", "/v1/Keys", {"AccountSid": "{sub}", "FriendlyName": "v1"}),
    Case(
        "iam-create-restricted",
        "iam",
        "POST",
        "/v1/Keys",
        {"AccountSid": "{sub}", "KeyType": "restricted", "Policy": POLICY},
    ),
    Case("iam-create-no-account-sid", "iam", "POST", "/v1/Keys", {"FriendlyName": "v1"}, both="reject"),
    Case("iam-create-bad-account-sid", "iam", "POST", "/v1/Keys", {"AccountSid": "AC1"}, both="reject"),
    Case(
        "iam-create-main-type",
        "iam",
        "POST",
        "/v1/Keys",
        {"AccountSid": "{sub}", "KeyType": "main"},
        both="reject",
    ),
    Case(
        "iam-restricted-without-policy",
        "iam",
        "POST",
        "/v1/Keys",
        {"AccountSid": "{sub}", "KeyType": "restricted"},
    ),
    Case(
        "iam-policy-not-json",
        "iam",
        "POST",
        "/v1/Keys",
        {"AccountSid": "{sub}", "KeyType": "restricted", "Policy": "allow everything"},
    ),
    Case("iam-list-keys", "iam", "GET", "/v1/Keys", params={"AccountSid": "{sub}"}),
    Case("iam-list-without-account-sid", "iam", "GET", "/v1/Keys", both="reject"),
    Case("iam-fetch-key", "iam", "GET", "/v1/Keys/{iam_key}"),
    Case("iam-fetch-bad-sid", "iam", "GET", "/v1/Keys/SK0", both="reject"),
    Case("iam-update-key", "iam", "POST", "/v1/Keys/{iam_key}", {"FriendlyName": "renamed"}),
    Case("iam-delete-key", "iam", "DELETE", "/v1/Keys/{iam_key}"),
    # -- events.twilio.com/v1 --------------------------------------------------------------------------------
    Case(
        "create-webhook-sink",
        "events",
        "POST",
        "/v1/Sinks",
        {"Description": "hooks", "SinkType": "webhook", "SinkConfiguration": WEBHOOK_SINK},
    ),
    Case(
        "create-kinesis-sink",
        "events",
        "POST",
        "/v1/Sinks",
        {"Description": "stream", "SinkType": "kinesis", "SinkConfiguration": KINESIS_SINK},
    ),
    Case(
        "create-sink-bad-type",
        "events",
        "POST",
        "/v1/Sinks",
        {"Description": "d", "SinkType": "pigeon", "SinkConfiguration": WEBHOOK_SINK},
        both="reject",
    ),
    Case(
        "create-sink-without-configuration",
        "events",
        "POST",
        "/v1/Sinks",
        {"Description": "d", "SinkType": "webhook"},
        both="reject",
    ),
    Case("list-sinks", "events", "GET", "/v1/Sinks", params={"Status": "active", "InUse": "true"}),
    # The spec types Status as any string: an unknown one filters everything out.
    Case("list-sinks-unknown-status", "events", "GET", "/v1/Sinks", params={"Status": "sleeping"}),
    Case("fetch-sink", "events", "GET", "/v1/Sinks/{dg}"),
    Case("fetch-sink-bad-sid", "events", "GET", "/v1/Sinks/DG1", both="reject"),
    Case("describe-sink", "events", "POST", "/v1/Sinks/{dg}", {"Description": "renamed"}),
    Case("delete-sink", "events", "DELETE", "/v1/Sinks/{dg_spare}"),
    Case("test-sink", "events", "POST", "/v1/Sinks/{dg_kinesis}/Test"),
    Case("validate-sink", "events", "POST", "/v1/Sinks/{dg_kinesis}/Validate", {"TestId": "{test_id}"}),
    Case(
        "create-subscription",
        "events",
        "POST",
        "/v1/Subscriptions",
        [
            ("Description", "delivery"),
            ("SinkSid", "{dg}"),
            ("Types", '{"type": "com.twilio.messaging.message.delivered", "schema_version": 3}'),
            ("Types", '{"type": "com.twilio.messaging.message.failed"}'),
        ],
    ),
    Case(
        "create-subscription-bad-sink",
        "events",
        "POST",
        "/v1/Subscriptions",
        {"Description": "d", "SinkSid": "DG1", "Types": '{"type": "com.twilio.messaging.message.sent"}'},
        both="reject",
    ),
    Case("list-subscriptions", "events", "GET", "/v1/Subscriptions", params={"SinkSid": "{dg}"}),
    Case("fetch-subscription", "events", "GET", "/v1/Subscriptions/{df}"),
    Case("move-subscription", "events", "POST", "/v1/Subscriptions/{df}", {"SinkSid": "{dg_spare}"}),
    Case("delete-subscription", "events", "DELETE", "/v1/Subscriptions/{df}"),
    Case("list-subscribed-events", "events", "GET", "/v1/Subscriptions/{df}/SubscribedEvents"),
    Case(
        "add-subscribed-event",
        "events",
        "POST",
        "/v1/Subscriptions/{df}/SubscribedEvents",
        {"Type": "com.twilio.messaging.message.read", "SchemaVersion": "2"},
    ),
    Case(
        "add-subscribed-event-bad-version",
        "events",
        "POST",
        "/v1/Subscriptions/{df}/SubscribedEvents",
        {"Type": "com.twilio.messaging.message.read", "SchemaVersion": "two"},
        both="reject",
    ),
    Case(
        "fetch-subscribed-event",
        "events",
        "GET",
        "/v1/Subscriptions/{df}/SubscribedEvents/com.twilio.messaging.message.sent",
    ),
    Case(
        "change-schema-version",
        "events",
        "POST",
        "/v1/Subscriptions/{df}/SubscribedEvents/com.twilio.messaging.message.sent",
        {"SchemaVersion": "2"},
    ),
    Case(
        "remove-subscribed-event",
        "events",
        "DELETE",
        "/v1/Subscriptions/{df}/SubscribedEvents/com.twilio.messaging.message.sent",
    ),
    Case("list-event-types", "events", "GET", "/v1/Types", params={"PageSize": "20"}),
    Case("fetch-event-type", "events", "GET", "/v1/Types/com.twilio.messaging.message.delivered"),
    # -- usage (api.twilio.com/2010-04-01) -------------------------------------------------------------------
    Case(
        "usage-this-month",
        "api",
        "GET",
        "/2010-04-01/Accounts/{sub}/Usage/Records/ThisMonth.json",
        params={"IncludeSubaccounts": "false", "PageSize": "1000"},
    ),
    Case(
        "usage-this-month-category",
        "api",
        "GET",
        "/2010-04-01/Accounts/{sub}/Usage/Records/ThisMonth.json",
        params={"Category": "totalprice"},
    ),
    Case(
        "usage-this-month-bad-category",
        "api",
        "GET",
        "/2010-04-01/Accounts/{sub}/Usage/Records/ThisMonth.json",
        params={"Category": "everything"},
        both="reject",
    ),
    Case("create-trigger", "api", "POST", "/2010-04-01/Accounts/{sub}/Usage/Triggers.json", TRIGGER),
    Case(
        "create-trigger-offset",
        "api",
        "POST",
        "/2010-04-01/Accounts/{sub}/Usage/Triggers.json",
        {**TRIGGER, "TriggerValue": "+30", "TriggerBy": "count", "UsageCategory": "sms"},
    ),
    Case(
        "create-trigger-not-a-number",
        "api",
        "POST",
        "/2010-04-01/Accounts/{sub}/Usage/Triggers.json",
        {**TRIGGER, "TriggerValue": "lots"},
    ),
    Case(
        "create-trigger-no-callback",
        "api",
        "POST",
        "/2010-04-01/Accounts/{sub}/Usage/Triggers.json",
        {k: v for k, v in TRIGGER.items() if k != "CallbackUrl"},
        both="reject",
    ),
    Case(
        "create-trigger-weekly",
        "api",
        "POST",
        "/2010-04-01/Accounts/{sub}/Usage/Triggers.json",
        {**TRIGGER, "Recurring": "weekly"},
        both="reject",
    ),
    Case(
        "create-trigger-by-cost",
        "api",
        "POST",
        "/2010-04-01/Accounts/{sub}/Usage/Triggers.json",
        {**TRIGGER, "TriggerBy": "cost"},
        both="reject",
    ),
    Case(
        "list-triggers",
        "api",
        "GET",
        "/2010-04-01/Accounts/{sub}/Usage/Triggers.json",
        params={"UsageCategory": "totalprice", "PageSize": "1000"},
    ),
    Case("fetch-trigger", "api", "GET", "/2010-04-01/Accounts/{sub}/Usage/Triggers/{ut}.json"),
    Case(
        "fetch-trigger-bad-sid",
        "api",
        "GET",
        "/2010-04-01/Accounts/{sub}/Usage/Triggers/UT1.json",
        both="reject",
    ),
    Case(
        "update-trigger",
        "api",
        "POST",
        "/2010-04-01/Accounts/{sub}/Usage/Triggers/{ut}.json",
        {"CallbackUrl": "https://hooks.example.com/usage2", "FriendlyName": "renamed"},
    ),
    Case("delete-trigger", "api", "DELETE", "/2010-04-01/Accounts/{sub}/Usage/Triggers/{ut}.json"),
    # -- bulkexports.twilio.com/v1 ---------------------------------------------------------------------------
    Case("fetch-export-configuration", "bulkexports", "GET", "/v1/Exports/Messages/Configuration"),
    Case(
        "update-export-configuration",
        "bulkexports",
        "POST",
        "/v1/Exports/Messages/Configuration",
        {
            "Enabled": "true",
            "WebhookUrl": "https://hooks.example.com/twilio/archives",
            "WebhookMethod": "POST",
        },
    ),
    Case(
        "update-export-configuration-enabled-yes",
        "bulkexports",
        "POST",
        "/v1/Exports/Messages/Configuration",
        {"Enabled": "yes"},
        both="reject",
    ),
    Case(
        "update-export-configuration-not-a-url",
        "bulkexports",
        "POST",
        "/v1/Exports/Messages/Configuration",
        {"WebhookUrl": "not a url"},
        both="reject",
    ),
    Case("list-days", "bulkexports", "GET", "/v1/Exports/Messages/Days", params={"PageSize": "100"}),
    Case("fetch-day", "bulkexports", "GET", "/v1/Exports/Messages/Days/{day}"),
]

SERVICE_DOCS = "https://www.twilio.com/docs/messaging/api/service-resource"
IAM_KEY_DOCS = "https://www.twilio.com/docs/iam/api-keys/key-resource-v1"
EXCEPTIONS: dict[str, Difference] = {
    "create-account-long-name": Difference(
        "reject",
        "accept",
        "FriendlyName 'can be up to 64 characters long' (https://www.twilio.com/docs/iam/api/subaccounts); "
        "the spec says so in prose only, without maxLength.",
    ),
    "list-accounts-bad-page-token": Difference(
        "reject",
        "accept",
        "Error 21481 'Invalid PageToken' (https://www.twilio.com/docs/errors/21481); the spec types "
        "PageToken as any string.",
    ),
    "list-services-bad-page-token": Difference(
        "reject", "accept", "Error 21481 'Invalid PageToken' (https://www.twilio.com/docs/errors/21481)."
    ),
    "create-service-empty-body": Difference(
        "reject",
        "accept",
        f"FriendlyName is required on create ({SERVICE_DOCS}); the spec lists it as required, but its "
        "requestBody is not `required`, so Prism skips the check when the body is empty.",
    ),
    "validity-negative": Difference(
        "reject",
        "accept",
        f"ValidityPeriod 'can be an integer from 1 to 36,000' ({SERVICE_DOCS}); the schema has no bounds.",
    ),
    "validity-above-range": Difference(
        "reject", "accept", f"ValidityPeriod 'can be an integer from 1 to 36,000' ({SERVICE_DOCS})."
    ),
    "clear-callback": Difference(
        "accept",
        "reject",
        "An empty value clears a URL field: the SDK drops None, so `StatusCallback=` is the only way to "
        "unset it (twilio-python twilio/base/values.py; twilio-api.md §3). Prism checks '' as a URI.",
    ),
    "add-number-empty-body": Difference(
        "reject",
        "accept",
        "PhoneNumberSid is required (https://www.twilio.com/docs/messaging/api/phonenumber-resource); "
        "the requestBody is not `required`, so Prism skips the check when the body is empty.",
    ),
    "add-alpha-sender-empty-body": Difference(
        "reject",
        "accept",
        "AlphaSender is required (https://www.twilio.com/docs/messaging/api/alphasender-resource); "
        "the requestBody is not `required`, so Prism skips the check when the body is empty.",
    ),
    "add-alpha-sender-bad-chars": Difference(
        "reject",
        "accept",
        "An alphanumeric sender ID has up to 11 characters of A-Z, a-z, 0-9, space, +, -, _ and & "
        "(https://www.twilio.com/docs/messaging/api/alphasender-resource); the schema is a plain string.",
    ),
    "send-message-no-body": Difference(
        "reject",
        "accept",
        "Error 21602 'Message body is required': a message needs Body, MediaUrl or ContentSid "
        "(https://www.twilio.com/docs/api/errors/21602); the spec cannot say 'one of'.",
    ),
    "send-message-no-sender": Difference(
        "reject",
        "accept",
        "Error 21603 'A From phone number is required': From or MessagingServiceSid "
        "(https://www.twilio.com/docs/api/errors/21603); the spec cannot say 'one of'.",
    ),
    "iam-restricted-without-policy": Difference(
        "reject",
        "accept",
        f"'If KeyType is set to restricted ... a policy object is required' ({IAM_KEY_DOCS}).",
    ),
    "create-subscription": Difference(
        "accept",
        "reject",
        "Types is an array sent as a repeated form field, each value a JSON object, as twilio-python sends "
        "it "
        "(twilio/rest/events/v1/subscription/__init__.py: serialize.map(types, serialize.object)) and as the "
        "spec's own example shows; Prism reads a repeated urlencoded field as one string, not as the array.",
    ),
    "create-trigger-not-a-number": Difference(
        "reject",
        "accept",
        "TriggerValue is 'the usage value at which the trigger should fire', a number or an offset such as "
        "`+30` (https://www.twilio.com/docs/usage/api/usage-trigger); the schema is a plain string.",
    ),
    "iam-policy-not-json": Difference(
        "reject",
        "accept",
        f"Policy is a JSON object of allowed permissions ({IAM_KEY_DOCS}); the schema leaves it untyped.",
    ),
}


@dataclass
class PrismServer:
    host: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    base: str = field(init=False)

    def __post_init__(self) -> None:
        self.base = f"http://127.0.0.1:{self.port}"


def _ensure_prism() -> Path:
    if PRISM_BIN.exists():
        return PRISM_BIN
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("Prism is not installed and npm is not on PATH; install Node 20 and npm")
    result = subprocess.run(
        [npm, "install", "--prefix", str(PRISM_DIR), "--no-audit", "--no-fund", PRISM_PACKAGE],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0 or not PRISM_BIN.exists():
        pytest.fail(f"npm install {PRISM_PACKAGE} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return PRISM_BIN


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_ready(server: PrismServer, deadline: float) -> None:
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(
                f"Prism for {server.host} exited with {server.process.returncode}:\n{server.log.read_text()}"
            )
        try:
            with urllib.request.urlopen(f"{server.base}/__ready", timeout=1):
                return
        except urllib.error.HTTPError:
            return  # any HTTP answer (404 for this path) means Prism is serving
        except OSError:
            time.sleep(0.1)
    pytest.fail(
        f"Prism for {server.host} did not start within {STARTUP_TIMEOUT:.0f}s:\n{server.log.read_text()}"
    )


@pytest.fixture(scope="session")
def prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, PrismServer]]:
    binary = _ensure_prism()
    logs = tmp_path_factory.mktemp("prism")
    servers: dict[str, PrismServer] = {}
    try:
        for host, spec in SPEC_FILES.items():
            port = _free_port()
            log = logs / f"{host}.log"
            with log.open("wb") as sink:
                process = subprocess.Popen(
                    [
                        str(binary),
                        "mock",
                        "-v",
                        "warn",
                        "-h",
                        "127.0.0.1",
                        "-p",
                        str(port),
                        str(SPEC_DIR / spec),
                    ],
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                )
            servers[host] = PrismServer(host, port, process, log)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        for server in servers.values():
            _wait_ready(server, deadline)
        yield servers
    finally:
        for server in servers.values():
            server.process.terminate()
        for server in servers.values():
            try:
                server.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait()


@dataclass
class World:
    """Real emulator objects for every placeholder in the case paths."""

    emulator: TwilioEmulator
    sub_sid: str
    sub_token: str
    ids: dict[str, str]


def _world(emulator: TwilioEmulator) -> World:
    state = emulator.state
    sub = state.create_subaccount(state.parent, "prism tenant")
    key = state.create_key(sub.sid, "k")
    iam_key = state.create_key(sub.sid, "v1")
    pn = state.buy_number(sub.sid, "+14155550100")
    pooled_pn = state.buy_number(sub.sid, "+14155550101")
    sc = state.lease_short_code(sub.sid, "55555")
    pooled_sc = state.lease_short_code(sub.sid, "66666")
    service = state.create_service(sub.sid, {"friendly_name": "svc"})
    state.add_number_to_service(service, pooled_pn.sid, "setup")
    state.add_short_code_to_service(service, pooled_sc.sid, "setup")
    alpha = state.add_alpha_sender(service, "INITIAL")
    message = state.send_message(sub, "+14155550199", "hello", service, None, None)
    parent_pn = state.buy_number(state.parent.sid, "+14155550102")
    events = state.events
    sink = events.create_sink(sub.sid, "prism sink", "webhook", WEBHOOK_SINK)
    spare = events.create_sink(sub.sid, "spare sink", "webhook", WEBHOOK_SINK)
    kinesis = events.create_sink(sub.sid, "prism stream", "kinesis", KINESIS_SINK)
    test_id = events.test_sink(kinesis)
    subscription = events.create_subscription(
        sub.sid,
        "prism subscription",
        sink.sid,
        [("com.twilio.messaging.message.sent", 8), ("com.twilio.messaging.message.delivered", 8)],
    )
    trigger = UsageTrigger(
        sid=state.new_sid("UT"),
        account_sid=sub.sid,
        callback_url="https://hooks.example.com/twilio/usage",
        callback_method="POST",
        friendly_name="existing",
        usage_category="sms",
        trigger_by="count",
        trigger_value=1000.0,
        recurring="daily",
        date_created=utcnow(),
        date_updated=utcnow(),
    )
    state.triggers[trigger.sid] = trigger
    day = "2026-01-31"
    state.exports[(sub.sid, "Messages")] = ExportConfiguration(enabled=True)
    state.exports[(sub.sid, "Messages")].days[day] = archive(sub.sid, list(state.messages.values()), day)
    ids = {
        "parent": state.parent.sid,
        "parent_pn": parent_pn.sid,
        "dg": sink.sid,
        "dg_spare": spare.sid,
        "dg_kinesis": kinesis.sid,
        "test_id": test_id,
        "df": subscription.sid,
        "sub": sub.sid,
        "key": key.sid,
        "iam_key": iam_key.sid,
        "pn": pn.sid,
        "pooled_pn": pooled_pn.sid,
        "sc": sc.sid,
        "pooled_sc": pooled_sc.sid,
        "svc": service.sid,
        "ai": alpha.sid,
        "sm": message.sid,
        "ut": trigger.sid,
        "day": day,
    }
    return World(emulator, sub.sid, sub.auth_token, ids)


def _fill(template: str, ids: Mapping[str, str]) -> str:
    for name, value in ids.items():
        template = template.replace("{" + name + "}", value)
    return template


@pytest.fixture
async def world() -> AsyncIterator[tuple[World, aiohttp.ClientSession]]:
    emulator = TwilioEmulator(seed=11)
    emulator.core.settings.check_responses = True
    await emulator.start()
    try:
        async with aiohttp.ClientSession() as session:
            yield _world(emulator), session
    finally:
        await emulator.stop()
    problems = [v for v in emulator.violations() if v["kind"] == "response"]
    assert problems == [], f"responses that break Twilio's OpenAPI spec: {problems}"


async def _send(
    session: aiohttp.ClientSession, base: str, case: Case, world: World, host_header: str | None
) -> tuple[int, str]:
    # 2010 calls go as the parent acting on the subaccount; v1 calls authenticate as the subaccount.
    if case.host == "api":
        username, password = world.emulator.parent_sid, world.emulator.parent_token
    else:
        username, password = world.sub_sid, world.sub_token
    headers = {"Host": host_header} if host_header else {}
    if case.auth:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
    pairs = case.data.items() if isinstance(case.data, Mapping) else case.data
    data = [(k, _fill(v, world.ids)) for k, v in pairs] if pairs is not None else None
    params = {k: _fill(v, world.ids) for k, v in case.params.items()} if case.params else None
    async with session.request(
        case.method,
        base + _fill(case.path, world.ids),
        data=data if case.json_body is None else None,
        json=case.json_body,
        params=params,
        headers=headers,
        allow_redirects=False,
    ) as response:
        return response.status, await response.text()


def _verdict(status: int) -> str:
    # FetchDay answers 307 (to the day's file): its only documented success.
    return "accept" if 200 <= status < 400 else "reject"


def test_exceptions_name_existing_cases() -> None:
    assert set(EXCEPTIONS) <= {case.id for case in CASES}
    assert len({case.id for case in CASES}) == len(CASES)
    assert all(e.emulator != e.prism for e in EXCEPTIONS.values())


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
async def test_emulator_and_prism_agree(
    case: Case, prism: dict[str, PrismServer], world: tuple[World, aiohttp.ClientSession]
) -> None:
    state, session = world
    emulator_status, emulator_body = await _send(
        session,
        state.emulator.url,
        case,
        state,
        HOSTNAMES[case.host],  # type: ignore[index]
    )
    prism_status, prism_body = await _send(session, prism[case.host].base, case, state, None)
    expected = EXCEPTIONS.get(case.id)
    wanted = (expected.emulator, expected.prism) if expected else (case.both, case.both)
    got = (_verdict(emulator_status), _verdict(prism_status))
    assert got == wanted, (
        f"{case.id}: emulator {emulator_status} {emulator_body[:300]}\n"
        f"    prism {prism_status} {prism_body[:300]}"
    )
    if got[0] == "reject" and emulator_status == 400 and expected is None:
        # A spec rejection is recorded as a contract violation, as every consumer of the emulator relies on.
        assert state.emulator.violations(), f"{case.id}: the emulator's 400 left no violation record"
