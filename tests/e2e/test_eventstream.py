"""EventStream end to end: a sink and its subscription, replacement, types as a set, Kinesis validation."""

from __future__ import annotations

import base64
import json
from typing import Any

from tests.e2e import helpers
from tests.e2e.test_messagingservice import ingress, with_subaccount
from tests.support.twilio_side import TwilioSide
from twilio_operator.sandbox.kubectl import Kubectl
from twilio_operator.sandbox.processes import OperatorProcess, wait_for

KIND = "eventstream"
DELIVERED = "com.twilio.messaging.message.delivered"
FAILED = "com.twilio.messaging.message.failed"
READ = "com.twilio.messaging.message.read"
STREAM_ARN = "arn:aws:kinesis:us-east-1:111111111111:stream/twilio-events"
ROLE_ARN = "arn:aws:iam::111111111111:role/twilio-events"


def stream_manifest(name: str, annotations: dict[str, str] | None = None, **spec: Any) -> str:
    spec.setdefault("subaccountRef", {"name": "sub"})
    return helpers.manifest("EventStream", name, annotations, **spec)


def webhook(path: str = "/twilio/events", **extra: Any) -> dict[str, Any]:
    return {"webhook": {"ingressRef": {"name": "hooks", "path": path}, **extra}}


def sinks(twilio: TwilioSide, account: str) -> list[dict[str, Any]]:
    return [s for s in twilio.state()["sinks"] if s["account"] == account]


def subscription(twilio: TwilioSide, sid: str) -> dict[str, Any]:
    return next(s for s in twilio.state()["subscriptions"] if s["sid"] == sid)


def test_webhook_stream_follows_its_ingress_with_one_subscription_and_types_as_a_set(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    sub = with_subaccount(kubectl, namespace)
    kubectl.apply(
        ingress("hooks", {"events.example.com": ["/twilio"]}, tls=["events.example.com"]), namespace
    )
    types = [DELIVERED, {"type": FAILED, "schemaVersion": 3}]
    kubectl.apply(stream_manifest("delivery", destination=webhook(batchEvents=True), types=types), namespace)
    status = helpers.ready(kubectl, KIND, "delivery", namespace)["status"]
    sink_sid, sub_sid = status["sinkSid"], status["subscriptionSid"]
    assert status["sid"] == sink_sid and status["sinkStatus"] == "active" and status["accountSid"] == sub
    assert status["destination"] == {
        "type": "webhook",
        "url": "https://events.example.com/twilio/events",
        "method": "POST",
        "batchEvents": True,
    }
    assert status["types"] == [
        {"type": DELIVERED, "schemaVersion": 8},
        {"type": FAILED, "schemaVersion": 3},
    ]
    [sink] = sinks(twilio, sub)
    assert sink["sid"] == sink_sid and sink["sink_type"] == "webhook"
    assert sink["configuration"]["destination"] == "https://events.example.com/twilio/events"
    held = subscription(twilio, sub_sid)
    assert (held["account"], held["sink"], held["types"]) == (sub, sink_sid, {DELIVERED: 8, FAILED: 3})

    # Types as a set: one removed, one added, one's schema version changed.
    kubectl.apply(
        stream_manifest(
            "delivery",
            destination=webhook(batchEvents=True),
            types=[READ, {"type": FAILED, "schemaVersion": 2}],
        ),
        namespace,
    )
    wait_for(lambda: subscription(twilio, sub_sid)["types"] == {FAILED: 2, READ: 8}, 30, what="the new set")
    told = [(e["reason"], e["message"]) for e in helpers.events(kubectl, namespace, "delivery")]
    assert any(r == "TypesUpdated" and f"removed {DELIVERED}" in m for r, m in told), told

    # A new host is a new destination: a new sink, the subscription moved to it, the old sink deleted.
    seq = twilio.last_seq()
    kubectl.apply(ingress("hooks", {"hooks.example.com": ["/twilio"]}, tls=["hooks.example.com"]), namespace)
    wait_for(
        lambda: (
            [s["configuration"]["destination"] for s in sinks(twilio, sub)]
            == ["https://hooks.example.com/twilio/events"]
        ),
        30,
        what="one sink, at the new URL",
    )
    status = helpers.ready(kubectl, KIND, "delivery", namespace)["status"]
    assert status["sinkSid"] != sink_sid and status["subscriptionSid"] == sub_sid
    assert subscription(twilio, sub_sid)["sink"] == status["sinkSid"]
    writes = [r["operation"] for r in twilio.writes_since(seq) if r["principal"] == sub]
    # Never a moment without a subscription: made, moved, then the old sink deleted; the subscription stays.
    assert writes == ["CreateSink", "UpdateSubscription", "DeleteSink"], writes
    told = [e["reason"] for e in helpers.events(kubectl, namespace, "delivery")]
    assert {"SinkReplaced", "SubscriptionMoved", "SinkDeleted"} <= set(told), told


def test_unknown_event_types_are_refused_naming_the_type(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    sub = with_subaccount(kubectl, namespace)
    destination = {"webhook": {"url": "https://hooks.example.com/twilio/events"}}
    kubectl.apply(
        stream_manifest(
            "typo", destination=destination, types=[DELIVERED, "com.twilio.messaging.mesage.sent"]
        ),
        namespace,
    )
    cond = helpers.reason(kubectl, KIND, "typo", namespace, "Synced", "UnknownEventType")
    assert "com.twilio.messaging.mesage.sent" in cond["message"]
    assert sinks(twilio, sub) == []
    # Fixed, it is made.
    kubectl.apply(stream_manifest("typo", destination=destination, types=[DELIVERED]), namespace)
    helpers.ready(kubectl, KIND, "typo", namespace)


def test_kinesis_sink_waits_for_the_test_id_and_its_external_id_stays_secret(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    sub = with_subaccount(kubectl, namespace)
    external_id = f"ext-{namespace}"
    kubectl.apply(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "kinesis"},
                "data": {"externalId": base64.b64encode(external_id.encode()).decode()},
            }
        ),
        namespace,
    )
    kinesis = {
        "kinesis": {
            "arn": STREAM_ARN,
            "roleArn": ROLE_ARN,
            "externalIdSecretRef": {"name": "kinesis", "key": "externalId"},
        }
    }
    kubectl.apply(stream_manifest("stream", destination=kinesis, types=[DELIVERED]), namespace)
    cond = helpers.reason(kubectl, KIND, "stream", namespace, "Ready", "SinkAwaitingValidation")
    assert STREAM_ARN in cond["message"] and "twilio.operator.dev/sink-test-id" in cond["message"]
    [sink] = wait_for(
        lambda: [s for s in sinks(twilio, sub) if s["tests"]] or None, 30, what="the test event sent"
    )
    assert sink["status"] == "validating" and len(sink["tests"]) == 1
    assert [s["sink"] for s in twilio.state()["subscriptions"] if s["account"] == sub] == []

    kubectl.run("annotate", KIND, "stream", "-n", namespace, "twilio.operator.dev/sink-test-id=TEwrong")
    wait_for(
        lambda: (
            "refused test id TEwrong"
            in (helpers.conditions(kubectl.get(KIND, "stream", namespace)).get("Ready") or {}).get(
                "message", ""
            )
        ),
        30,
        what="the wrong test id reported",
    )
    kubectl.run(
        "annotate",
        KIND,
        "stream",
        "-n",
        namespace,
        f"twilio.operator.dev/sink-test-id={sink['tests'][0]}",
        "--overwrite",
    )
    status = helpers.ready(kubectl, KIND, "stream", namespace)["status"]
    assert status["sinkStatus"] == "active" and status["destination"]["arn"] == STREAM_ARN
    assert subscription(twilio, status["subscriptionSid"])["sink"] == sink["sid"]
    assert len(sink["tests"]) == 1  # one test event, however many passes waited
    # The external id reached Twilio only: not status, not Events.
    shown = kubectl.run("get", KIND, "stream", "-n", namespace, "-o", "json").stdout
    shown += kubectl.run("get", "events", "-n", namespace, "-o", "json").stdout
    assert external_id not in shown
    assert all(external_id not in line for line in operator.all_logs().splitlines())


def test_console_drift_of_types_and_description_is_corrected(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    sub = with_subaccount(kubectl, namespace)
    destination = {"webhook": {"url": "https://hooks.example.com/twilio/events"}}
    kubectl.apply(stream_manifest("drift", destination=destination, types=[DELIVERED, FAILED]), namespace)
    status = helpers.ready(kubectl, KIND, "drift", namespace)["status"]
    account = twilio.client().api.v2010.accounts(sub).fetch()
    as_sub = twilio.client(sub, account.auth_token)
    as_sub.events.v1.subscriptions(status["subscriptionSid"]).subscribed_events(FAILED).delete()
    as_sub.events.v1.sinks(status["sinkSid"]).update(description="changed in the console")
    wait_for(
        lambda: subscription(twilio, status["subscriptionSid"])["types"] == {DELIVERED: 8, FAILED: 8},
        30,
        what="the type restored",
    )
    wait_for(
        lambda: (
            next(s for s in sinks(twilio, sub) if s["sid"] == status["sinkSid"])["description"]
            == f"{namespace}/drift"
        ),
        30,
        what="the description restored",
    )
    told = [(e["reason"], e["message"]) for e in helpers.events(kubectl, namespace, "drift")]
    assert any(r == "DriftCorrected" and FAILED in m for r, m in told), told
    assert any(r == "DriftCorrected" and "description" in m for r, m in told), told


def test_deletion_policies(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    sub = with_subaccount(kubectl, namespace)
    destination = {"webhook": {"url": "https://hooks.example.com/twilio/events"}}
    kubectl.apply(stream_manifest("gone", destination=destination, types=[DELIVERED]), namespace)
    kubectl.apply(
        stream_manifest("kept", destination=destination, types=[DELIVERED], deletionPolicy="Orphan"),
        namespace,
    )
    gone = helpers.ready(kubectl, KIND, "gone", namespace)["status"]
    kept = helpers.ready(kubectl, KIND, "kept", namespace)["status"]
    kubectl.run("delete", KIND, "gone", "kept", "-n", namespace, "--wait=true", "--timeout=60s")
    state = twilio.state()
    assert {s["sid"] for s in state["sinks"] if s["account"] == sub} == {kept["sinkSid"]}
    subscriptions = {s["sid"] for s in state["subscriptions"] if s["account"] == sub}
    assert subscriptions == {kept["subscriptionSid"]} and gone["subscriptionSid"] not in subscriptions
