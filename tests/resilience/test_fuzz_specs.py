"""Property-based specs of every kind, valid and invalid, through `kubectl apply` to the real CRD schemas.

* Invalid specs (one field broken at a time) are rejected by the API server with a message naming the field.
  These examples never reach the operator, so they are cheap and many.
* Valid specs are accepted, and then the operator must never crash, never send Twilio a request its OpenAPI
  spec rejects (the emulator's violations log stays empty), and each object must end either Ready or with a
  specific reason (not the generic ReconcileError) within a bounded wait, and then stay put: no hot loop of
  Twilio writes. These examples cost seconds each, so there are fewer; each applies one object of each kind.

Deterministic: `derandomize=True`, no deadline, no example database. The example count is written to
$CHAOS_FUZZ_REPORT when set (`make chaos` reports it).
"""

from __future__ import annotations

import json
import os
import string
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from chaos.control import TwilioSide
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from tests.resilience.conftest import Captured, make_namespace
from tests.resilience.helpers import conditions, subaccount, tracebacks
from twilio_operator.sandbox.kubectl import Kubectl
from twilio_operator.sandbox.processes import OperatorProcess

API_VERSION = "twilio.operator.dev/v1alpha1"
INVALID_EXAMPLES = 160  # per kind
VALID_EXAMPLES = 30  # each applies one object of each kind
SETTLE_SECONDS = 30.0
# Ready reasons that name what the object waits for: as specific as a Synced reason.
SPECIFIC_READY_REASONS = {"WaitingForSubaccount", "IngressNotFound", "PathNotRouted", "IngressHasNoHost"}

FUZZ = settings(
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


@dataclass
class Tally:
    examples: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)

    def example(self, test: str) -> None:
        self.examples[test] = self.examples.get(test, 0) + 1

    def outcome(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


TALLY = Tally()


@pytest.fixture(scope="module", autouse=True)
def report() -> Iterator[None]:
    yield
    target = os.environ.get("CHAOS_FUZZ_REPORT")
    summary = {
        "examples": sum(TALLY.examples.values()),
        "by_test": TALLY.examples,
        "outcomes": TALLY.outcomes,
    }
    print(f"\nfuzz examples: {json.dumps(summary)}")
    if target:
        Path(target).write_text(json.dumps(summary, indent=2))


# --- strategies: valid values ------------------------------------------------------------------------

HEX = "0123456789abcdef"
# Any character a manifest can carry, control characters included (a spec is user input), within the Basic
# Multilingual Plane: kubectl's YAML reader refuses the surrogate-pair escapes JSON uses beyond it.
TEXT = st.characters(exclude_categories=["Cs"], max_codepoint=0xFFFF)
DNS_LABEL = st.from_regex(r"\A[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?\Z")
friendly_names = st.text(TEXT, min_size=1, max_size=64)
# Rotation intervals the schema accepts (never zero: a rotation "every 0s" would never stop).
durations = st.one_of(
    st.sampled_from(["1m", "1h", "90m", "720h", "30d", "1h30m", "2d12h", "0h1m"]),
    st.builds(lambda n, u: f"{n}{u}", st.integers(1, 10_000), st.sampled_from("mhd")),
)
grace_periods = st.one_of(
    st.sampled_from(["0s", "5s", "1h"]), st.builds(lambda n: f"{n}s", st.integers(1, 600))
)
permissions = st.from_regex(r"\A/twilio/[a-z0-9_/-]{1,40}\Z")
urls = st.builds(
    lambda scheme, host, path: f"{scheme}://{host}{path}",
    st.sampled_from(["http", "https"]),
    st.from_regex(r"\A[a-z0-9.-]{1,30}(:[0-9]{1,5})?\Z"),
    st.one_of(st.just(""), st.from_regex(r"\A/[!-~]{0,60}\Z")),
)
ingress_refs = st.fixed_dictionaries(
    {"name": DNS_LABEL, "path": st.from_regex(r"\A/[!-~]{0,30}\Z")},
    optional={"host": st.from_regex(r"\A[a-z0-9.-]{1,30}\Z")},
)
pn_sids = st.text(HEX, min_size=32, max_size=32).map(lambda h: "PN" + h)
sc_sids = st.text(HEX, min_size=32, max_size=32).map(lambda h: "SC" + h)
e164 = st.from_regex(r"\A\+[1-9][0-9]{6,14}\Z")
alpha_senders = st.from_regex(r"\A[A-Za-z0-9 +\-_&]{0,5}[A-Za-z +\-_&][A-Za-z0-9 +\-_&]{0,5}\Z")


def webhook(with_method: bool) -> st.SearchStrategy[dict[str, Any]]:
    target = st.one_of(
        st.builds(lambda u: {"url": u}, urls), st.builds(lambda r: {"ingressRef": r}, ingress_refs)
    )
    if not with_method:
        return target
    return st.builds(
        lambda t, m: {**t, **({"method": m} if m else {})}, target, st.sampled_from([None, "GET", "POST"])
    )


ALERT_NAMES = st.from_regex(r"\A[a-z0-9]([-a-z0-9]{0,10}[a-z0-9])?\Z")
thresholds = st.one_of(
    st.builds(str, st.integers(0, 10**6)),
    st.builds(lambda a, b: f"{a}.{b}", st.integers(0, 9999), st.integers(0, 9999)),
)
usage_alerts = st.lists(
    st.fixed_dictionaries(
        {
            "name": ALERT_NAMES,
            "category": st.sampled_from(
                ["totalprice", "sms", "sms-outbound", "mms", "calls", "phonenumbers"]
            ),
            "value": thresholds,
        },
        optional={
            "triggerBy": st.sampled_from(["count", "usage", "price"]),
            "recurring": st.sampled_from(["daily", "monthly", "yearly", "alltime"]),
        },
    ),
    max_size=3,
    unique_by=lambda alert: str(alert["name"]),
)


def subaccount_specs() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {},
        optional={
            "friendlyName": friendly_names,
            "state": st.sampled_from(["Active", "Suspended"]),
            "deletionPolicy": st.sampled_from(["Orphan", "Suspend", "Close"]),
            "credentialsSecretRef": st.builds(lambda n: {"name": n}, DNS_LABEL),
            "usageAlerts": usage_alerts,
            "usageCallback": webhook(True),
            "archives": st.fixed_dictionaries(
                {},
                optional={
                    "messages": st.fixed_dictionaries(
                        {"enabled": st.booleans()}, optional={"webhook": webhook(True)}
                    )
                },
            ),
        },
    )


def key_specs() -> st.SearchStrategy[dict[str, Any]]:
    restricted = st.builds(
        lambda allow: {"type": "Restricted", "policy": {"allow": allow}},
        st.lists(permissions, min_size=1, max_size=5),
    )
    kind: st.SearchStrategy[dict[str, Any]] = st.one_of(
        st.just({}), st.just({"type": "Standard"}), restricted
    )
    # Mostly the namespace's Ready subaccount; sometimes one that doesn't exist, a raw SID or none at all.
    account = st.sampled_from(
        [
            {"subaccountRef": {"name": "sub"}},
            {"subaccountRef": {"name": "sub"}},
            {"subaccountRef": {"name": "sub"}},
            {"subaccountRef": {"name": "nosuch"}},
            {"accountSid": "AC" + "1" * 32},
            {},
        ]
    )
    rest = st.fixed_dictionaries(
        {},
        optional={
            "friendlyName": friendly_names,
            "secretName": DNS_LABEL,
            "rotation": st.fixed_dictionaries({"every": durations}, optional={"gracePeriod": grace_periods}),
            "onSecretLoss": st.sampled_from(["Recreate", "Fail"]),
            "deletionPolicy": st.sampled_from(["Delete", "Orphan"]),
        },
    )
    return st.builds(lambda a, k, r: {**a, **k, **r}, account, kind, rest)


def service_specs() -> st.SearchStrategy[dict[str, Any]]:
    account = st.sampled_from(
        [{"subaccountRef": {"name": "sub"}}] * 4 + [{"subaccountRef": {"name": "nosuch"}}, {}]
    )
    webhooks = st.fixed_dictionaries(
        {},
        optional={
            "inboundRequest": webhook(True),
            "fallback": webhook(True),
            "statusCallback": webhook(False),
        },
    )
    senders = st.fixed_dictionaries(
        {},
        optional={
            "phoneNumbers": st.lists(st.one_of(pn_sids, e164), max_size=3),
            "shortCodes": st.lists(sc_sids, max_size=2),
            "alphaSenders": st.lists(alpha_senders, max_size=3),
        },
    )
    rest = st.fixed_dictionaries(
        {},
        optional={
            "friendlyName": friendly_names,
            "usecase": st.sampled_from(
                ["notifications", "marketing", "verification", "discussion", "poll", "undeclared"]
            ),
            "stickySender": st.booleans(),
            "mmsConverter": st.booleans(),
            "smartEncoding": st.booleans(),
            "scanMessageContent": st.sampled_from(["inherit", "enable", "disable"]),
            "fallbackToLongCode": st.booleans(),
            "areaCodeGeomatch": st.booleans(),
            "validityPeriod": st.integers(1, 36000),
            "synchronousValidation": st.booleans(),
            "useInboundWebhookOnNumber": st.booleans(),
            "webhooks": webhooks,
            "senders": senders,
            "deletionPolicy": st.sampled_from(["Delete", "Orphan"]),
            "default": st.booleans(),
        },
    )
    return st.builds(lambda a, r: {**a, **r}, account, rest)


EVENT_TYPES = [
    "com.twilio.messaging.message.queued",
    "com.twilio.messaging.message.sent",
    "com.twilio.messaging.message.delivered",
    "com.twilio.messaging.message.failed",
    "com.twilio.messaging.message.undelivered",
    "com.twilio.messaging.message.read",
    "com.twilio.messaging.inbound-message.received",
    "com.twilio.error-logs.error.logged",
]
# Mostly types Twilio knows; sometimes a well-formed name it does not (UnknownEventType).
event_type_names = st.one_of(
    st.sampled_from(EVENT_TYPES), st.from_regex(r"\Acom\.twilio\.[a-z]{3,8}\.[a-z]{3,8}\Z")
)
event_types = st.lists(
    st.one_of(
        event_type_names,
        st.builds(lambda t, v: {"type": t, "schemaVersion": v}, event_type_names, st.integers(1, 9)),
    ),
    min_size=1,
    max_size=4,
    unique_by=lambda item: item if isinstance(item, str) else item["type"],
)
kinesis_arns = st.from_regex(r"\Aarn:aws:kinesis:us-east-1:[0-9]{12}:stream/[A-Za-z0-9_.-]{1,20}\Z")
role_arns = st.from_regex(r"\Aarn:aws:iam::[0-9]{12}:role/[A-Za-z0-9_+=,.@-]{1,20}\Z")


def stream_specs() -> st.SearchStrategy[dict[str, Any]]:
    account = st.sampled_from(
        [{"subaccountRef": {"name": "sub"}}] * 4 + [{"subaccountRef": {"name": "nosuch"}}, {}]
    )
    hook = st.builds(
        lambda target, extra: {"webhook": {**target, **extra}},
        webhook(True),
        st.fixed_dictionaries({}, optional={"batchEvents": st.booleans()}),
    )
    kinesis = st.builds(
        lambda arn, role, secret: {
            "kinesis": {"arn": arn, "roleArn": role, "externalIdSecretRef": {"name": secret, "key": "id"}}
        },
        kinesis_arns,
        role_arns,
        DNS_LABEL,
    )
    rest = st.fixed_dictionaries(
        {"destination": st.one_of(hook, hook, kinesis), "types": event_types},
        optional={"friendlyName": friendly_names, "deletionPolicy": st.sampled_from(["Delete", "Orphan"])},
    )
    return st.builds(lambda a, r: {**a, **r}, account, rest)


purchases = st.fixed_dictionaries(
    {},
    optional={
        "country": st.sampled_from(["US", "GB", "DE", "CA"]),
        "type": st.sampled_from(["Local", "Mobile", "TollFree"]),
        "areaCode": st.from_regex(r"\A[2-9][0-9]{2}\Z"),
        "contains": st.from_regex(r"\A[0-9*]{1,4}\Z"),
        "capabilities": st.lists(st.sampled_from(["sms", "mms", "voice", "fax"]), max_size=4, unique=True),
    },
)


def number_specs() -> st.SearchStrategy[dict[str, Any]]:
    account = st.sampled_from(
        [{"subaccountRef": {"name": "sub"}}] * 4 + [{"subaccountRef": {"name": "nosuch"}}, {}]
    )
    what = st.one_of(
        st.builds(lambda n: {"phoneNumber": n}, e164), st.builds(lambda p: {"purchase": p}, purchases)
    )
    webhooks = st.fixed_dictionaries(
        {},
        optional={
            name: webhook(True) for name in ("sms", "smsFallback", "voice", "voiceFallback", "statusCallback")
        },
    )
    rest = st.fixed_dictionaries(
        {},
        optional={
            "friendlyName": friendly_names,
            "webhooks": webhooks,
            "deletionPolicy": st.sampled_from(["ReturnToParent", "Retain", "Release"]),
        },
    )
    return st.builds(lambda a, w, r: {**a, **w, **r}, account, what, rest)


VALID: dict[str, Callable[[], st.SearchStrategy[dict[str, Any]]]] = {
    "TwilioSubaccount": subaccount_specs,
    "ApiKey": key_specs,
    "MessagingService": service_specs,
    "EventStream": stream_specs,
    "PhoneNumber": number_specs,
}

# --- strategies: one broken field --------------------------------------------------------------------

not_a_string: st.SearchStrategy[Any] = st.one_of(
    st.integers(), st.booleans(), st.lists(st.integers(), max_size=2), st.just({"a": 1})
)
not_a_bool: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from(["yes", "true", "1"]), st.integers(0, 3), st.just([])
)
# 1.0 is an integer to the API server (an integral JSON number), so only fractions are wrong.
not_an_int: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from(["10", "1e3", "ten"]),
    st.booleans(),
    st.floats(0.5, 10.5).filter(lambda f: not f.is_integer()),
)
bad_enum = st.text(string.ascii_letters, min_size=1, max_size=12)
bad_dns = st.one_of(
    st.just(""),
    st.from_regex(r"\A[A-Z][a-z]{1,8}\Z"),
    st.from_regex(r"\A[a-z]{1,5}_[a-z]{1,5}\Z"),
    st.just("-leading"),
    st.just("x" * 254),
)
bad_durations: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from(["", "1", "h", "1w", "1.5h", "-1h", "1 h", "PT1H"]), st.integers(1, 100)
)
bad_sid = st.one_of(
    st.just(""),
    st.text(HEX, min_size=32, max_size=32).map(lambda h: "XX" + h),
    st.text(HEX, min_size=1, max_size=31).map(lambda h: "AC" + h),
    st.text("ABCDEFGHIJ", min_size=32, max_size=32).map(lambda h: "AC" + h),
)
bad_urls = st.one_of(
    st.sampled_from(["", "ftp://x.example.com", "example.com/path", "https://", "https://a_b.example.com/"]),
    st.just("https://x.example.com/" + "a" * 2100),
    st.just("https://x.example.com/with space"),
)


@dataclass(frozen=True)
class Breakage:
    """A spec with one field broken: where (the dotted path kubectl must name) and how."""

    path: tuple[str | int, ...]
    value: Any  # _DELETE removes the field (a required one)
    note: str


_DELETE = object()
# A valid usage alert, for breaking one field of a list item the generated spec does not have.
VALID_ITEM = {"category": "sms", "value": "1"}


# What a breakage below a field the spec lacks puts there first, so that one field is broken, not two (an
# object missing a required field is refused for that alone: kube-apiserver then runs no CEL rule).
VALID_PARENTS: dict[tuple[str | int, ...], dict[str, Any]] = {("rotation",): {"every": "720h"}}


def _set(spec: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    spec = json.loads(json.dumps(spec))
    node: Any = spec
    for depth, part in enumerate(path[:-1]):
        if isinstance(part, int):
            # A list item to break: valid ones up to it first (the generated list may be shorter).
            node.extend({**VALID_ITEM, "name": f"item{n}"} for n in range(len(node), part + 1))
            node = node[part]
        else:
            parent = VALID_PARENTS.get(path[: depth + 1], {})
            node = node.setdefault(part, [] if isinstance(path[depth + 1], int) else dict(parent))
    if value is _DELETE:
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value
    return spec


def breakages(kind: str) -> st.SearchStrategy[Breakage]:
    common = [
        st.builds(
            lambda v: Breakage(("friendlyName",), v, "too long"), st.text(TEXT, min_size=65, max_size=80)
        ),
        st.just(Breakage(("friendlyName",), "", "empty")),
        st.builds(lambda v: Breakage(("friendlyName",), v, "not a string"), not_a_string),
        st.builds(lambda v: Breakage(("deletionPolicy",), v, "not in enum"), bad_enum),
        st.builds(
            lambda name, v: Breakage((name,), v, "unknown field"),
            st.from_regex(r"\A[a-z][a-zA-Z]{2,12}\Z").filter(lambda n: n not in ALL_FIELDS),
            st.integers(),
        ),
    ]
    specific: list[st.SearchStrategy[Breakage]]
    if kind == "TwilioSubaccount":
        specific = [
            st.builds(lambda v: Breakage(("state",), v, "not in enum"), bad_enum),
            st.builds(lambda v: Breakage(("credentialsSecretRef", "name"), v, "bad name"), bad_dns),
            st.just(Breakage(("credentialsSecretRef", "name"), _DELETE, "required")),
            st.builds(
                lambda f, v: Breakage(("usageAlerts", 0, f), v, "not in enum"),
                st.sampled_from(["category", "triggerBy", "recurring"]),
                bad_enum,
            ),
            st.builds(
                lambda v: Breakage(("usageAlerts", 0, "value"), v, "bad threshold"),
                st.sampled_from(["+30", "-1", "1e3", "", "ten", "1.23456", "1,000"]),
            ),
            st.builds(lambda v: Breakage(("usageAlerts", 0, "name"), v, "bad name"), bad_dns),
            st.builds(
                lambda f: Breakage(("usageAlerts", 0, f), _DELETE, "required"),
                st.sampled_from(["name", "category", "value"]),
            ),
            st.builds(lambda v: Breakage(("usageCallback", "url"), v, "bad URL"), bad_urls),
            st.builds(
                lambda v: Breakage(("archives", "messages", "enabled"), v, "not a boolean"), not_a_bool
            ),
            st.just(Breakage(("archives", "messages", "enabled"), _DELETE, "required")),
        ]
    elif kind == "ApiKey":
        specific = [
            st.builds(lambda v: Breakage(("type",), v, "not in enum"), bad_enum),
            st.builds(lambda v: Breakage(("onSecretLoss",), v, "not in enum"), bad_enum),
            st.builds(lambda v: Breakage(("accountSid",), v, "bad SID"), bad_sid),
            st.builds(lambda v: Breakage(("secretName",), v, "bad name"), bad_dns),
            st.builds(lambda v: Breakage(("subaccountRef", "name"), v, "bad name"), bad_dns),
            st.builds(
                lambda v: Breakage(("rotation", "every"), v, "bad duration"),
                st.one_of(bad_durations, st.sampled_from(["0s", "0h0m", "00d"])),
            ),
            st.builds(lambda v: Breakage(("rotation", "gracePeriod"), v, "bad duration"), bad_durations),
            st.just(Breakage(("rotation", "every"), _DELETE, "required")),
            st.just(Breakage(("policy", "allow"), [], "empty list")),
            st.builds(
                lambda v: Breakage(("policy", "allow"), [v], "bad permission"),
                st.sampled_from(["twilio/x", "/other/x", "/twilio/UPPER", "/twilio/a b", ""]),
            ),
        ]
    elif kind == "EventStream":
        specific = [
            st.just(Breakage(("destination",), _DELETE, "required")),
            st.just(Breakage(("types",), _DELETE, "required")),
            st.just(Breakage(("types",), [], "empty list")),
            st.just(
                Breakage(
                    ("destination",),
                    {
                        "webhook": {"url": "https://a.example.com/e"},
                        "kinesis": {
                            "arn": "arn:aws:kinesis:us-east-1:111111111111:stream/s",
                            "roleArn": "arn:aws:iam::111111111111:role/r",
                            "externalIdSecretRef": {"name": "s", "key": "k"},
                        },
                    },
                    "both webhook and kinesis",
                )
            ),
            st.just(Breakage(("destination",), {}, "neither webhook nor kinesis")),
            st.builds(lambda v: Breakage(("destination", "webhook", "url"), v, "bad URL"), bad_urls),
            st.builds(
                lambda v: Breakage(("destination", "webhook", "method"), v, "not in enum"),
                st.sampled_from(["PUT", "get", ""]),
            ),
            st.builds(
                lambda v: Breakage(("destination", "webhook", "batchEvents"), v, "not a boolean"), not_a_bool
            ),
            st.builds(
                lambda v: Breakage(("destination", "kinesis", "arn"), v, "bad ARN"),
                st.sampled_from(["", "arn:aws:s3:::bucket", "arn:aws:kinesis:us-east-1:12:stream/x"]),
            ),
            st.builds(
                lambda v: Breakage(("destination", "kinesis", "externalIdSecretRef", "name"), v, "bad name"),
                bad_dns,
            ),
            st.builds(lambda v: Breakage(("subaccountRef", "name"), v, "bad name"), bad_dns),
        ]
    elif kind == "PhoneNumber":
        specific = [
            st.builds(
                lambda v: Breakage(("phoneNumber",), v, "bad number"),
                st.sampled_from(["+0123456", "14155550100", "+1", "PN123"]),
            ),
            st.builds(
                lambda v: Breakage(("purchase", "country"), v, "bad country"),
                st.sampled_from(["us", "USA", "1", ""]),
            ),
            st.builds(lambda v: Breakage(("purchase", "type"), v, "not in enum"), bad_enum),
            st.builds(
                lambda v: Breakage(("purchase", "areaCode"), v, "bad area code"),
                st.sampled_from(["", "1", "abc", "123456"]),
            ),
            st.builds(
                lambda v: Breakage(("purchase", "contains"), v, "bad pattern"),
                st.sampled_from(["", "abc", "1" * 17, "+1-"]),
            ),
            st.builds(lambda v: Breakage(("purchase", "capabilities"), [v], "not in enum"), bad_enum),
            st.builds(
                lambda hook, v: Breakage(("webhooks", hook, "url"), v, "bad URL"),
                st.sampled_from(["sms", "smsFallback", "voice", "statusCallback"]),
                bad_urls,
            ),
            st.builds(
                lambda hook: Breakage(
                    ("webhooks", hook),
                    {"url": "https://a.example.com/x", "ingressRef": {"name": "i", "path": "/"}},
                    "both url and ingressRef",
                ),
                st.sampled_from(["sms", "voiceFallback", "statusCallback"]),
            ),
            st.builds(lambda v: Breakage(("subaccountRef", "name"), v, "bad name"), bad_dns),
        ]
    else:
        bools = [
            "stickySender",
            "mmsConverter",
            "smartEncoding",
            "fallbackToLongCode",
            "areaCodeGeomatch",
            "synchronousValidation",
            "useInboundWebhookOnNumber",
        ]
        specific = [
            st.builds(lambda f, v: Breakage((f,), v, "not a boolean"), st.sampled_from(bools), not_a_bool),
            st.builds(lambda v: Breakage(("usecase",), v, "not in enum"), bad_enum),
            st.builds(lambda v: Breakage(("scanMessageContent",), v, "not in enum"), bad_enum),
            st.builds(
                lambda v: Breakage(("validityPeriod",), v, "out of range"),
                st.one_of(st.integers(max_value=0), st.integers(min_value=36001)),
            ),
            st.builds(lambda v: Breakage(("validityPeriod",), v, "not an integer"), not_an_int),
            st.builds(
                lambda hook, v: Breakage(("webhooks", hook, "url"), v, "bad URL"),
                st.sampled_from(["inboundRequest", "fallback", "statusCallback"]),
                bad_urls,
            ),
            st.builds(
                lambda hook, v: Breakage(("webhooks", hook, "method"), v, "not in enum"),
                st.sampled_from(["inboundRequest", "fallback"]),
                st.sampled_from(["PUT", "get", "DELETE", ""]),
            ),
            st.builds(
                lambda hook: Breakage(
                    ("webhooks", hook),
                    {"url": "https://a.example.com/x", "ingressRef": {"name": "i", "path": "/"}},
                    "both url and ingressRef",
                ),
                st.sampled_from(["inboundRequest", "fallback", "statusCallback"]),
            ),
            st.builds(
                lambda hook: Breakage(("webhooks", hook), {}, "neither url nor ingressRef"),
                st.sampled_from(["inboundRequest", "fallback", "statusCallback"]),
            ),
            st.builds(
                lambda v: Breakage(("senders", "phoneNumbers"), [v], "bad number"),
                st.sampled_from(["+0123456", "14155550100", "+1", "PN123", "pn" + "a" * 32]),
            ),
            st.builds(lambda v: Breakage(("senders", "shortCodes"), [v], "bad SID"), bad_sid),
            st.builds(
                lambda v: Breakage(("senders", "alphaSenders"), [v], "bad alpha sender"),
                st.one_of(
                    st.from_regex(r"\A[0-9]{1,11}\Z"), st.just("TWELVECHARSX"), st.just("bad!"), st.just("")
                ),
            ),
            st.just(Breakage(("senders", "alphaSenders"), [f"A{i}" for i in range(11)], "too many")),
            st.builds(lambda v: Breakage(("subaccountRef", "name"), v, "bad name"), bad_dns),
            st.just(Breakage(("subaccountRef",), {}, "required name")),
        ]
    return st.one_of(*common, *specific)


ALL_FIELDS = {
    "friendlyName",
    "state",
    "deletionPolicy",
    "credentialsSecretRef",
    "usageAlerts",
    "usageCallback",
    "archives",
    "subaccountRef",
    "accountSid",
    "type",
    "policy",
    "secretName",
    "rotation",
    "onSecretLoss",
    "usecase",
    "webhooks",
    "senders",
    "validityPeriod",
    "stickySender",
    "mmsConverter",
    "smartEncoding",
    "scanMessageContent",
    "fallbackToLongCode",
    "areaCodeGeomatch",
    "synchronousValidation",
    "useInboundWebhookOnNumber",
    "default",
    "destination",
    "types",
    "phoneNumber",
    "purchase",
}


def _field_name(path: tuple[str | int, ...]) -> str:
    """As the API server names it: spec.usageAlerts[0].value."""
    return "spec" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


def body(kind: str, name: str, spec: dict[str, Any]) -> str:
    # ASCII-escaped: kubectl reads manifests as YAML, where raw NEL or line separators would break lines.
    document = {"apiVersion": API_VERSION, "kind": kind, "metadata": {"name": name}, "spec": spec}
    return json.dumps(document)


# --- fixtures -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fuzz_namespace(session_kubectl: Kubectl, captured: Captured, session_operator: OperatorProcess) -> str:
    """A tenant with a Ready subaccount `sub` that generated keys and services refer to."""
    if not session_operator.alive():
        session_operator.start()
    namespace = make_namespace(session_kubectl, "fuzz", captured)
    subaccount(session_kubectl, namespace)
    return namespace


class Names:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.n = 0

    def next(self) -> str:
        self.n += 1
        return f"{self.prefix}{self.n}"


# --- invalid specs: rejected, naming the field ---------------------------------------------------------


@pytest.mark.parametrize("kind", list(VALID))
def test_invalid_specs_are_rejected_naming_the_field(
    kind: str, session_kubectl: Kubectl, fuzz_namespace: str
) -> None:
    names = Names(f"bad-{kind.lower()}-")

    @settings(FUZZ, max_examples=INVALID_EXAMPLES)
    @given(spec=VALID[kind](), breakage=breakages(kind))
    def check(spec: dict[str, Any], breakage: Breakage) -> None:
        TALLY.example(f"invalid-{kind}")
        broken = _set(spec, breakage.path, breakage.value)
        name = names.next()
        result = session_kubectl.run(
            "apply", "-n", fuzz_namespace, "-f", "-", input=body(kind, name, broken), check=False
        )
        assert result.returncode != 0, f"{breakage.note} at {_field_name(breakage.path)} accepted: {broken}"
        where = _field_name(breakage.path[:1] if breakage.note == "unknown field" else breakage.path)
        assert where in result.stderr, f"{breakage.note}: the message does not name {where}: {result.stderr}"

    check()


# --- valid specs: accepted, and the operator settles them ----------------------------------------------


def outcome(obj: dict[str, Any] | None) -> str | None:
    """'Ready', or 'Kind:Reason' for a specific outcome, or None while the object is still in motion."""
    if obj is None:
        return None
    status = obj.get("status") or {}
    if status.get("observedGeneration") != obj["metadata"]["generation"]:
        return None
    conds = conditions(obj)
    ready, synced = conds.get("Ready", {}), conds.get("Synced", {})
    if ready.get("status") == "True" and synced.get("status") == "True":
        return "Ready"
    if synced.get("status") == "False" and synced.get("reason") not in (None, "ReconcileError"):
        return f"Synced:{synced['reason']}"
    if ready.get("status") == "False" and ready.get("reason") in SPECIFIC_READY_REASONS:
        return f"Ready:{ready['reason']}"
    return None


def describe(obj: dict[str, Any] | None) -> str:
    if obj is None:
        return "absent"
    conds = conditions(obj)
    return json.dumps({t: {k: c.get(k) for k in ("status", "reason", "message")} for t, c in conds.items()})


@pytest.mark.timeout(900)
def test_valid_specs_are_accepted_and_settle(
    session_kubectl: Kubectl,
    fuzz_namespace: str,
    twilio: TwilioSide,
    session_operator: OperatorProcess,
) -> None:
    kubectl = session_kubectl
    names = Names("ok-")
    deleted: set[str] = set()
    violations_before = len(twilio.violations())

    # No shrinking: each example costs seconds of real reconciling, and the failure report shows the specs.
    @settings(FUZZ, max_examples=VALID_EXAMPLES, phases=[Phase.explicit, Phase.generate])
    @given(
        sub=subaccount_specs(),
        key=key_specs(),
        service=service_specs(),
        stream=stream_specs(),
        number=number_specs(),
    )
    # The degenerate corners the schema allows, always tried: a zero grace period, the longest names.
    @example(
        sub={"friendlyName": "\u00e9" * 64, "state": "Suspended"},
        key={"subaccountRef": {"name": "sub"}, "rotation": {"every": "1m", "gracePeriod": "0s"}},
        service={"subaccountRef": {"name": "sub"}, "validityPeriod": 1, "friendlyName": "x" * 64},
        stream={
            "subaccountRef": {"name": "sub"},
            "destination": {"webhook": {"url": "https://hooks.example.com/e", "batchEvents": False}},
            "types": ["com.twilio.messaging.message.read", {"type": "com.twilio.messaging.message.sent"}],
        },
        number={
            "subaccountRef": {"name": "sub"},
            "purchase": {"type": "TollFree"},
            "deletionPolicy": "Release",
        },
    )
    def check(
        sub: dict[str, Any],
        key: dict[str, Any],
        service: dict[str, Any],
        stream: dict[str, Any],
        number: dict[str, Any],
    ) -> None:
        TALLY.example("valid")
        n = names.next()
        objects = {("twiliosubaccount", f"{n}-sub"): sub, ("apikey", f"{n}-key"): key}
        objects[("messagingservice", f"{n}-svc")] = service
        objects[("eventstream", f"{n}-events")] = stream
        objects[("phonenumber", f"{n}-number")] = number
        kinds = {
            "twiliosubaccount": "TwilioSubaccount",
            "apikey": "ApiKey",
            "messagingservice": "MessagingService",
            "eventstream": "EventStream",
            "phonenumber": "PhoneNumber",
        }
        docs = [body(kinds[k], nm, s) for (k, nm), s in objects.items()]
        logs_before = len(session_operator.all_logs())
        result = kubectl.run(
            "apply", "-n", fuzz_namespace, "-f", "-", input="\n---\n".join(docs), check=False
        )
        assert result.returncode == 0, f"a valid spec was rejected: {result.stderr}\n{docs}"

        finals: dict[tuple[str, str], str] = {}
        deadline = time.monotonic() + SETTLE_SECONDS
        while len(finals) < len(objects) and time.monotonic() < deadline:
            for kind, name in objects:
                if (kind, name) not in finals:
                    found = outcome(kubectl.get(kind, name, fuzz_namespace))
                    if found:
                        finals[(kind, name)] = found
            time.sleep(0.2)
        unsettled = {k: describe(kubectl.get(*k, fuzz_namespace)) for k in objects if k not in finals}
        assert not unsettled, f"did not settle within {SETTLE_SECONDS}s: {unsettled}\nspecs: {objects}"

        # Settled means settled: no new Twilio object for the same resource a moment later (a hot loop).
        before = {k: (kubectl.get(*k, fuzz_namespace) or {}).get("status", {}).get("sid") for k in objects}
        time.sleep(1.0)
        after = {k: (kubectl.get(*k, fuzz_namespace) or {}).get("status", {}).get("sid") for k in objects}
        churn = {k: (before[k], after[k]) for k in objects if before[k] and after[k] != before[k]}
        assert not churn, f"objects replaced their Twilio object without a change: {churn}\nspecs: {objects}"

        assert session_operator.alive(), "the operator process died"
        # A pass still running when its object is deleted fails to write status (a separate, known finding,
        # see test_a_pass_that_outlives_its_object_logs_no_traceback); anything else is unexpected.
        unexpected = [
            tb
            for tb in tracebacks(session_operator.all_logs()[logs_before:])
            if not ("NotFoundError" in tb[1] and any(f'"{name}" not found' in tb[1] for name in deleted))
        ]
        assert not unexpected, f"the operator raised unexpectedly: {unexpected}\nspecs: {objects}"
        violations = twilio.violations()[violations_before:]
        assert not violations, f"requests Twilio's OpenAPI spec rejects: {violations}\nspecs: {objects}"
        for (kind, name), final in finals.items():
            TALLY.outcome(f"{kind}:{final}")
            kubectl.run("delete", kind, name, "-n", fuzz_namespace, "--wait=false", check=False)
            deleted.add(name)

    check()
