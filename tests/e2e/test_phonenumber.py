"""PhoneNumber end to end: numbers moved into subaccounts by Twilio's exchange, their webhooks and policies,
purchase, and the Messaging Services that list them."""

from __future__ import annotations

import random
from typing import Any

from tests.e2e import helpers
from tests.e2e.test_messagingservice import ingress, with_subaccount
from tests.support.twilio_side import TwilioSide
from twilio_operator.sandbox.kubectl import Kubectl
from twilio_operator.sandbox.processes import OperatorProcess, wait_for

KIND = "phonenumber"


def new_number() -> str:
    """A number nobody in the session's emulator holds yet (a test seeds it through the official API)."""
    return f"+1917{random.randrange(10**6, 10**7)}"


def seed(twilio: TwilioSide, account: str, number: str) -> str:
    """Buy `number` into `account` the way a person would, through Twilio's API (parent credentials)."""
    bought = twilio.client().api.v2010.accounts(account).incoming_phone_numbers.create(phone_number=number)
    return str(bought.sid)


def number_manifest(name: str, **spec: Any) -> str:
    spec.setdefault("subaccountRef", {"name": "sub"})
    return helpers.manifest("PhoneNumber", name, **spec)


def held(twilio: TwilioSide, sid: str) -> dict[str, Any] | None:
    return next((n for n in twilio.state()["incoming_phone_numbers"] if n["sid"] == sid), None)


def test_a_parent_number_moves_into_the_subaccount_with_its_webhooks(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    sub = with_subaccount(kubectl, namespace)
    number = new_number()
    sid = seed(twilio, twilio.parent_sid, number)
    kubectl.apply(ingress("hooks", {"sms.example.com": ["/twilio"]}, tls=["sms.example.com"]), namespace)
    webhooks = {
        "sms": {"ingressRef": {"name": "hooks", "path": "/twilio/inbound"}, "method": "POST"},
        "smsFallback": {"url": "https://fallback.example.com/sms"},
        "statusCallback": {"ingressRef": {"name": "hooks", "path": "/twilio/voice-status"}},
    }
    kubectl.apply(
        number_manifest("support", phoneNumber=number, friendlyName="support line", webhooks=webhooks),
        namespace,
    )
    status = helpers.ready(kubectl, KIND, "support", namespace)["status"]
    assert (status["sid"], status["accountSid"], status["phoneNumber"]) == (sid, sub, number)
    assert status["webhooks"]["smsUrl"] == "https://sms.example.com/twilio/inbound"
    there = held(twilio, sid)
    assert there is not None and there["account"] == sub and there["friendly_name"] == "support line"
    assert there["settings"]["sms_url"] == "https://sms.example.com/twilio/inbound"
    assert there["settings"]["sms_fallback_url"] == "https://fallback.example.com/sms"
    assert there["settings"]["status_callback"] == "https://sms.example.com/twilio/voice-status"
    moved = [r for r in twilio.requests_since(0) if r["operation"] == "UpdateIncomingPhoneNumber"]
    # The exchange is made with the parent's credentials, on the losing account's path.
    assert any(r["principal"] == twilio.parent_sid and twilio.parent_sid in r["path"] for r in moved)
    told = [(e["reason"], e["message"]) for e in helpers.events(kubectl, namespace, "support")]
    assert any(r == "Moved" and number in m for r, m in told), told

    # Console drift of a webhook and the name is corrected.
    twilio.client().api.v2010.accounts(sub).incoming_phone_numbers(sid).update(
        sms_url="https://elsewhere.example.com/x", friendly_name="renamed by hand"
    )
    wait_for(
        lambda: (
            (held(twilio, sid) or {}).get("friendly_name") == "support line"
            and (held(twilio, sid) or {})["settings"]["sms_url"] == "https://sms.example.com/twilio/inbound"
        ),
        30,
        what="the drift corrected",
    )
    told = [(e["reason"], e["message"]) for e in helpers.events(kubectl, namespace, "support")]
    assert any(r == "DriftCorrected" and "sms_url" in m for r, m in told), told

    # A webhook removed from the spec is cleared in Twilio.
    kubectl.apply(
        number_manifest(
            "support", phoneNumber=number, friendlyName="support line", webhooks={"sms": webhooks["sms"]}
        ),
        namespace,
    )
    wait_for(
        lambda: (held(twilio, sid) or {})["settings"]["sms_fallback_url"] is None,
        30,
        what="the fallback cleared",
    )
    # Deleted with the default policy, it goes back to the parent.
    kubectl.run("delete", KIND, "support", "-n", namespace, "--wait=true", "--timeout=60s")
    assert (held(twilio, sid) or {}).get("account") == twilio.parent_sid


def test_a_number_moves_between_subaccounts_of_the_namespace_and_keeps_its_sid(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    kubectl.apply(helpers.manifest("TwilioSubaccount", "a"), namespace)
    kubectl.apply(helpers.manifest("TwilioSubaccount", "b"), namespace)
    a = helpers.ready(kubectl, "twiliosubaccount", "a", namespace)["status"]["sid"]
    b = helpers.ready(kubectl, "twiliosubaccount", "b", namespace)["status"]["sid"]
    number = new_number()
    sid = seed(twilio, a, number)
    kubectl.apply(number_manifest("line", phoneNumber=number, subaccountRef={"name": "b"}), namespace)
    assert helpers.ready(kubectl, KIND, "line", namespace)["status"]["accountSid"] == b
    assert (held(twilio, sid) or {}).get("account") == b
    kubectl.apply(number_manifest("line", phoneNumber=number, subaccountRef={"name": "a"}), namespace)
    wait_for(lambda: (held(twilio, sid) or {}).get("account") == a, 30, what="the number back in a")
    status = helpers.ready(kubectl, KIND, "line", namespace)["status"]
    assert (status["sid"], status["accountSid"]) == (sid, a)


def test_a_messaging_service_listing_the_number_is_woken_when_it_arrives(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    sub = with_subaccount(kubectl, namespace)
    number = new_number()
    sid = seed(twilio, twilio.parent_sid, number)
    slow = {"twilio.operator.dev/poll-interval": "1h"}  # only the arrival can wake it within the test
    service = helpers.manifest(
        "MessagingService", "svc", slow, subaccountRef={"name": "sub"}, senders={"phoneNumbers": [number]}
    )
    kubectl.apply(service, namespace)
    helpers.reason(kubectl, "messagingservice", "svc", namespace, "Synced", "SenderNotFound")
    kubectl.apply(number_manifest("arrives", phoneNumber=number), namespace)
    helpers.ready(kubectl, KIND, "arrives", namespace)
    status = helpers.ready(kubectl, "messagingservice", "svc", namespace)["status"]
    assert status["senders"]["phoneNumbers"] == [sid]
    there = held(twilio, sid)
    assert there is not None and there["account"] == sub and there["service"] == status["sid"]


def test_deletion_policies_retain_and_release(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    sub = with_subaccount(kubectl, namespace)
    kept_number, released_number = new_number(), new_number()
    kept = seed(twilio, twilio.parent_sid, kept_number)
    released = seed(twilio, twilio.parent_sid, released_number)
    kubectl.apply(number_manifest("kept", phoneNumber=kept_number, deletionPolicy="Retain"), namespace)
    kubectl.apply(
        number_manifest("released", phoneNumber=released_number, deletionPolicy="Release"), namespace
    )
    helpers.ready(kubectl, KIND, "kept", namespace)
    helpers.ready(kubectl, KIND, "released", namespace)
    kubectl.run("delete", KIND, "kept", "released", "-n", namespace, "--wait=true", "--timeout=60s")
    assert (held(twilio, kept) or {}).get("account") == sub
    assert held(twilio, released) is None


def test_a_number_nobody_has_is_reported_and_placed_once_it_exists(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    sub = with_subaccount(kubectl, namespace)
    number = new_number()
    kubectl.apply(number_manifest("later", phoneNumber=number), namespace)
    cond = helpers.reason(kubectl, KIND, "later", namespace, "Ready", "NumberNotFound")
    assert number in cond["message"]
    sid = seed(twilio, twilio.parent_sid, number)
    kubectl.run("annotate", KIND, "later", "-n", namespace, "twilio.operator.dev/reconcile-requested-at=now")
    assert helpers.ready(kubectl, KIND, "later", namespace)["status"]["sid"] == sid
    assert (held(twilio, sid) or {}).get("account") == sub


def test_a_purchase_needs_the_operators_flag_too(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    sub = with_subaccount(kubectl, namespace)
    seq = twilio.last_seq()
    kubectl.apply(number_manifest("wanted", purchase={"areaCode": "628"}), namespace)
    cond = helpers.reason(kubectl, KIND, "wanted", namespace, "Synced", "Forbidden")
    assert "TWILIO_OPERATOR_ALLOW_PURCHASE" in cond["message"]
    assert [n for n in twilio.state()["incoming_phone_numbers"] if n["account"] == sub] == []
    assert not [r for r in twilio.requests_since(seq) if r["operation"] == "CreateIncomingPhoneNumber"]
