"""The subaccount's default Messaging Service: reported by the subaccount, managed by `spec.default`, kept."""

from __future__ import annotations

from tests.e2e import helpers
from tests.e2e.test_messagingservice import service, service_manifest
from tests.support.twilio_side import TwilioSide
from twilio_operator.sandbox.kubectl import Kubectl
from twilio_operator.sandbox.processes import OperatorProcess, wait_for

DEFAULT_NAME = "[Auto-generated] Default Messaging Service"


def test_the_default_service_is_reported_adopted_managed_and_never_deleted(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    kubectl.apply(helpers.manifest("TwilioSubaccount", "sub"), namespace)
    status = helpers.ready(kubectl, "twiliosubaccount", "sub", namespace)["status"]
    sub, default = status["sid"], status["defaultMessagingServiceSid"]
    made = [s for s in twilio.state()["services"] if s["account"] == sub]
    assert [(s["sid"], s["friendly_name"]) for s in made] == [(default, DEFAULT_NAME)]

    hook = {"url": "https://hooks.example.com/twilio/status"}
    kubectl.apply(
        service_manifest("default", default=True, webhooks={"statusCallback": hook}, deletionPolicy="Delete"),
        namespace,
    )
    obj = helpers.ready(kubectl, "messagingservice", "default", namespace)
    assert obj["status"]["sid"] == default and obj["status"]["default"] is True
    held = service(twilio, default)
    assert held["settings"]["status_callback"] == hook["url"]
    assert held["friendly_name"] == DEFAULT_NAME  # its name is left as Twilio has it
    assert [s["sid"] for s in twilio.state()["services"] if s["account"] == sub] == [default]

    # Messages sent without a service go through it, so its callback gets their delivery data.
    account = twilio.client().api.v2010.accounts(sub).fetch()
    as_sub = twilio.client(sub, account.auth_token)
    number = as_sub.api.v2010.accounts(sub).incoming_phone_numbers.create(phone_number="+16505550123")
    sent = as_sub.messages.create(to="+16505550199", from_=number.phone_number, body="hello")
    assert sent.messaging_service_sid == default

    kubectl.run("delete", "messagingservice", "default", "-n", namespace, "--wait=true", "--timeout=60s")
    assert service(twilio, default)["settings"]["status_callback"] == hook["url"]
    told = [e["reason"] for e in helpers.events(kubectl, namespace, "default")]
    assert "DefaultServiceKept" in told, told
    # Applied again, it takes the same service back.
    kubectl.apply(service_manifest("default", default=True), namespace)
    wait_for(
        lambda: (
            (kubectl.get("messagingservice", "default", namespace) or {}).get("status", {}).get("sid")
            == default
        ),
        30,
        what="the default service adopted again",
    )
