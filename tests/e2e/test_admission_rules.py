"""The CRDs' CEL validation rules (x-kubernetes-validations, from api/validation.py): a mistake a person can
fix in the manifest is refused by `kubectl apply` with a message saying what to write, on the real API server
and on the emulator alike. No operator is needed: nothing reaches it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.helpers import manifest
from twilio_operator.sandbox.kubectl import Kubectl

REF = {"subaccountRef": {"name": "sub"}}
URL = "https://hooks.example.com/sms"
INGRESS = {"name": "web", "path": "/sms"}


def refused(kubectl: Kubectl, namespace: str, kind: str, name: str, **spec: Any) -> list[str]:
    """The causes kubectl prints, "field: Invalid value: ...: message": after `* ` one per line when there
    are several, else on the line saying the object is invalid."""
    result = kubectl.run("apply", "-n", namespace, "-f", "-", input=manifest(kind, name, **spec), check=False)
    assert result.returncode != 0, f"{kind} {spec} was accepted"
    lines = result.stderr.splitlines()
    listed = [line[2:] for line in lines if line.startswith("* ")]
    return sorted(listed or [line.split(" is invalid: ", 1)[1] for line in lines if " is invalid: " in line])


@pytest.mark.parametrize(
    ("hook", "value", "message"),
    [
        ("inboundRequest", {}, "set url or ingressRef"),
        ("inboundRequest", {"url": URL, "ingressRef": INGRESS}, "set url or ingressRef, not both"),
        ("fallback", {"method": "GET"}, "set url or ingressRef"),
        ("statusCallback", {"url": URL, "ingressRef": INGRESS}, "set url or ingressRef, not both"),
    ],
)
def test_a_webhook_has_exactly_one_of_url_and_ingress_ref(
    kubectl: Kubectl, namespace: str, hook: str, value: dict[str, Any], message: str
) -> None:
    causes = refused(kubectl, namespace, "MessagingService", "svc", **REF, webhooks={hook: value})
    assert causes == [f"spec.webhooks.{hook}: Invalid value: {message}"]


@pytest.mark.parametrize(
    ("rotation", "cause"),
    [
        (
            {"every": "0s"},
            'spec.rotation.every: Invalid value: "0s": must be a duration such as 720h or 30d (s, m, h, d), '
            "and not zero",
        ),
        (
            {"every": "monthly"},
            'spec.rotation.every: Invalid value: "monthly": must be a duration such as 720h or 30d (s, m, h, '
            "d), and not zero",
        ),
        (
            {"every": "720h", "gracePeriod": "1 hour"},
            'spec.rotation.gracePeriod: Invalid value: "1 hour": must be a duration such as 1h or 30m (s, m, '
            "h, d)",
        ),
    ],
)
def test_rotation_intervals_are_durations_in_words(
    kubectl: Kubectl, namespace: str, rotation: dict[str, str], cause: str
) -> None:
    assert refused(kubectl, namespace, "ApiKey", "key", **REF, rotation=rotation) == [cause]


def test_a_restricted_key_needs_a_policy_and_only_it_may_have_one(kubectl: Kubectl, namespace: str) -> None:
    assert refused(kubectl, namespace, "ApiKey", "key", **REF, type="Restricted") == [
        "spec.policy: Invalid value: a Restricted key needs policy.allow"
    ]
    allow = {"allow": ["/twilio/messaging/messages/create"]}
    assert refused(kubectl, namespace, "ApiKey", "key", **REF, policy=allow) == [
        "spec.policy: Invalid value: policy applies to Restricted keys only: set type: Restricted, or remove "
        "policy"
    ]


@pytest.mark.parametrize("kind", ["ApiKey", "MessagingService"])
def test_a_subaccount_ref_and_a_raw_account_sid_exclude_each_other(
    kubectl: Kubectl, namespace: str, kind: str
) -> None:
    causes = refused(kubectl, namespace, kind, "both", **REF, accountSid="AC" + "0" * 32)
    assert causes == ["spec: Invalid value: set subaccountRef or accountSid, not both"]


IMMUTABLE = (
    "spec.secretName: Invalid value: secretName cannot be changed: the key's secret exists only in that "
    "Secret; make a new ApiKey for another Secret"
)


@pytest.mark.parametrize(
    ("before", "after"),
    [("first", "second"), (None, "second"), ("first", None)],
    ids=["changed", "set-later", "removed"],
)
def test_an_api_keys_secret_name_is_fixed_at_creation(
    kubectl: Kubectl, namespace: str, before: str | None, after: str | None
) -> None:
    def spec(secret_name: str | None) -> dict[str, Any]:
        return {**REF, **({"secretName": secret_name} if secret_name else {})}

    kubectl.apply(manifest("ApiKey", "key", **spec(before)), namespace)
    # Replaced whole (kubectl replace), so a removed field is really removed from the object.
    result = kubectl.run(
        "replace", "-n", namespace, "-f", "-", input=manifest("ApiKey", "key", **spec(after)), check=False
    )
    assert result.returncode != 0, f"secretName {before} -> {after} was accepted"
    assert IMMUTABLE in result.stderr
    # Everything else about the key may change; subaccountRef too (the operator moves the key).
    moved = {**spec(before), "subaccountRef": {"name": "other"}, "friendlyName": "renamed"}
    kubectl.apply(manifest("ApiKey", "key", **moved), namespace)
    stored = json.loads(kubectl.run("get", "apikey", "key", "-n", namespace, "-o", "json").stdout)
    assert stored["spec"]["subaccountRef"] == {"name": "other"}


def test_what_the_rules_allow_is_accepted(kubectl: Kubectl, namespace: str) -> None:
    restricted = {"type": "Restricted", "policy": {"allow": ["/twilio/messaging/messages/create"]}}
    rotation = {"every": "30d", "gracePeriod": "0s"}
    kubectl.apply(manifest("ApiKey", "key", **REF, **restricted, rotation=rotation), namespace)
    hooks = {"inboundRequest": {"url": URL, "method": "GET"}, "statusCallback": {"ingressRef": INGRESS}}
    kubectl.apply(manifest("MessagingService", "svc", **REF, webhooks=hooks), namespace)
