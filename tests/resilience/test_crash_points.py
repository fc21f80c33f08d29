"""The operator SIGKILLed at each named crash point, deterministically, one test each.

tests/e2e already kills it after a Twilio create, before the SID is recorded (subaccount, key, service).
These cover the rest: after a key's SID is recorded but before its Secret is written, mid-rotation (both
sides of recording the new key), and mid-deletion (a delete that committed, a create still in flight).
The moment is made exact with the emulators' faults: `commit_then_hang` holds Twilio's answer to a call
it has carried out, and a failing Secret write holds the pass right after the SID was recorded.
"""

from __future__ import annotations

import zlib
from typing import Any

import pytest
from chaos.control import KubeControl, TwilioSide

from tests.e2e.helpers import events
from tests.resilience import helpers
from tests.resilience.helpers import keys_named, manifest, secret_data, services_named, subaccount, wait_for
from twilio_operator.sandbox.kubectl import Kubectl
from twilio_operator.sandbox.processes import OperatorProcess

KEY = "apikey"
SERVICE = "messagingservice"
ROTATE = "twilio.operator.dev/rotate-requested-at"


def key(name: str, **spec: Any) -> str:
    spec.setdefault("subaccountRef", {"name": "sub"})
    return manifest("ApiKey", name, **spec)


def settled(kubectl: Kubectl, kind: str, name: str, namespace: str, timeout: float = 60) -> dict[str, Any]:
    """Wait until the object is Ready for its generation, or stuck on a reason other than a retry."""

    def check() -> dict[str, Any] | None:
        obj = kubectl.get(kind, name, namespace)
        conds = helpers.conditions(obj)
        synced = conds.get("Synced", {})
        if (
            obj is None
            or (obj.get("status") or {}).get("observedGeneration") != obj["metadata"]["generation"]
        ):
            return None
        if conds.get("Ready", {}).get("status") == "True" and synced.get("status") == "True":
            return obj
        if synced.get("status") == "False" and synced.get("reason") not in ("ReconcileError", None):
            return obj
        return None

    return wait_for(check, timeout, what=f"{kind} {namespace}/{name} to settle")


def assert_ready(obj: dict[str, Any]) -> None:
    conds = helpers.conditions(obj)
    assert conds["Ready"]["status"] == "True" and conds["Synced"]["status"] == "True", (
        f"not Ready: Ready={conds['Ready']} Synced={conds['Synced']}"
    )


def rotated(kubectl: Kubectl, name: str, namespace: str, request: str) -> dict[str, Any]:
    """Wait until the rotation `request` was handled and the key is Ready again."""

    def check() -> dict[str, Any] | None:
        obj = settled(kubectl, KEY, name, namespace)
        handled = ((obj.get("status") or {}).get("rotation") or {}).get("handledRotateRequest")
        synced = helpers.conditions(obj)["Synced"]
        return obj if handled == request or synced["status"] == "False" else None

    return wait_for(check, 60, interval=0.5, what=f"rotation {request} of {namespace}/{name}")


@pytest.mark.parametrize("on_secret_loss", ["Recreate", "Fail"])
def test_crash_after_key_sid_recorded_before_secret_written(
    kubectl: Kubectl,
    namespace: str,
    twilio: TwilioSide,
    kube: KubeControl,
    operator: OperatorProcess,
    on_secret_loss: str,
) -> None:
    subaccount(kubectl, namespace)
    seq = kube.next_seq()
    # The key is created and its SID recorded, then every attempt to store its secret fails.
    kube.fault(method="POST", path_regex=f"^/api/v1/namespaces/{namespace}/secrets$", status=500, times=None)
    kubectl.apply(key("crashy", onSecretLoss=on_secret_loss), namespace)
    failures = 2 if on_secret_loss == "Recreate" else 1  # Recreate: let a retry pass run into it too
    wait_for(
        lambda: len(helpers.kube_writes(kube, seq, "POST", f"/namespaces/{namespace}/secrets")) >= failures,
        30,
        what="the Secret write to fail",
    )
    recorded = (kubectl.get(KEY, "crashy", namespace) or {})["metadata"]["annotations"]
    assert recorded.get("twilio.operator.dev/external-name", "").startswith("SK"), recorded
    operator.kill()
    kube.clear_faults()
    operator.start()

    obj = settled(kubectl, KEY, "crashy", namespace)
    # No one ever held this key's secret, so this is not a lost Secret: the key is replaced, never reported.
    assert_ready(obj)
    data = secret_data(kubectl, "crashy", namespace) or {}
    assert data.get("TWILIO_API_KEY") == obj["status"]["sid"]
    assert twilio.authenticates(data)
    assert keys_named(twilio, f"{namespace}/crashy") == [obj["status"]["sid"]], (
        "keys whose secret was never stored were left in Twilio"
    )


def test_crash_mid_rotation_before_the_new_sid_is_recorded(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    subaccount(kubectl, namespace)
    kubectl.apply(key("rot", rotation={"every": "720h", "gracePeriod": "120s"}), namespace)
    first = helpers.ready(kubectl, KEY, "rot", namespace)["status"]["sid"]
    old = secret_data(kubectl, "rot", namespace) or {}
    twilio.fault(operation="CreateNewKey", kind="commit_then_hang", times=1)
    kubectl.run("annotate", KEY, "rot", "-n", namespace, f"{ROTATE}=r1")
    wait_for(
        lambda: len(keys_named(twilio, f"{namespace}/rot")) == 2, 30, what="the new key created in Twilio"
    )
    operator.kill()
    twilio.clear_faults()
    operator.start()

    obj = rotated(kubectl, "rot", namespace, "r1")
    assert_ready(obj)
    new = secret_data(kubectl, "rot", namespace) or {}
    current = obj["status"]["sid"]
    assert current != first and new.get("TWILIO_API_KEY") == current
    assert twilio.authenticates(new)
    assert twilio.authenticates(old), "the previous key must stay valid for the grace period"
    assert obj["status"]["rotation"]["previousSid"] == first
    # The key created while the operator died had no stored secret: it was revoked, not kept.
    assert keys_named(twilio, f"{namespace}/rot") == sorted([first, current])


def test_crash_mid_rotation_after_the_new_sid_is_recorded_before_the_secret_is_written(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, kube: KubeControl, operator: OperatorProcess
) -> None:
    subaccount(kubectl, namespace)
    kubectl.apply(key("rot", rotation={"every": "720h", "gracePeriod": "120s"}), namespace)
    first = helpers.ready(kubectl, KEY, "rot", namespace)["status"]["sid"]
    old = secret_data(kubectl, "rot", namespace) or {}
    seq = kube.next_seq()
    kube.fault(
        method="PATCH", path_regex=f"^/api/v1/namespaces/{namespace}/secrets/rot$", status=500, times=None
    )
    kubectl.run("annotate", KEY, "rot", "-n", namespace, f"{ROTATE}=r1")
    wait_for(
        lambda: helpers.kube_writes(kube, seq, "PATCH", f"/namespaces/{namespace}/secrets/rot"),
        30,
        what="the Secret update to fail",
    )
    operator.kill()
    kube.clear_faults()
    operator.start()

    obj = rotated(kubectl, "rot", namespace, "r1")
    assert_ready(obj)
    new = secret_data(kubectl, "rot", namespace) or {}
    assert new.get("TWILIO_API_KEY") == obj["status"]["sid"] != first
    assert twilio.authenticates(new)
    # Workloads were still using the old key (it was in the Secret when the operator died): a crash must
    # not cut its grace period short.
    assert twilio.authenticates(old), f"{first} was revoked without its grace period"
    assert keys_named(twilio, f"{namespace}/rot") == sorted([first, obj["status"]["sid"]])


def test_crash_mid_rotation_after_the_secret_is_written_before_the_status_is_recorded(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, kube: KubeControl, operator: OperatorProcess
) -> None:
    # Found by `make chaos`: the pass that rotated stored the new key, then its status write was lost.
    subaccount(kubectl, namespace)
    kubectl.apply(key("rot", rotation={"every": "720h", "gracePeriod": "120s"}), namespace)
    first = helpers.ready(kubectl, KEY, "rot", namespace)["status"]["sid"]
    old = secret_data(kubectl, "rot", namespace) or {}
    seq = kube.next_seq()
    status_path = f"^/apis/twilio.operator.dev/v1alpha1/namespaces/{namespace}/apikeys/rot/status$"
    kube.fault(method="PATCH", path_regex=status_path, status=500, times=1)
    kubectl.run("annotate", KEY, "rot", "-n", namespace, f"{ROTATE}=r1")
    wait_for(
        lambda: helpers.kube_writes(kube, seq, "PATCH", f"/namespaces/{namespace}/apikeys/rot/status"),
        30,
        what="the rotation's status write to fail",
    )
    rotated_to = (secret_data(kubectl, "rot", namespace) or {}).get("TWILIO_API_KEY")
    assert rotated_to != first, "the Secret should already hold the new key"
    operator.kill()
    kube.clear_faults()
    operator.start()

    obj = rotated(kubectl, "rot", namespace, "r1")
    assert_ready(obj)
    keys = keys_named(twilio, f"{namespace}/rot")
    # One rotation was asked for: one new key, the old one kept for its grace period, nothing else.
    assert obj["status"]["sid"] == rotated_to and keys == sorted([first, rotated_to]), (
        f"rotated again after the crash: current {obj['status']['sid']} (the Secret had {rotated_to}), "
        f"previous {obj['status']['rotation'].get('previousSid')}, keys in Twilio {keys} (original {first})"
    )
    assert twilio.authenticates(old)


def test_crash_mid_deletion_of_a_key_with_a_previous_key_in_grace(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    subaccount(kubectl, namespace)
    kubectl.apply(key("gone", rotation={"every": "720h", "gracePeriod": "300s"}), namespace)
    helpers.ready(kubectl, KEY, "gone", namespace)
    kubectl.run("annotate", KEY, "gone", "-n", namespace, f"{ROTATE}=r1")
    assert rotated(kubectl, "gone", namespace, "r1")["status"]["rotation"]["previousSid"]
    assert len(keys_named(twilio, f"{namespace}/gone")) == 2
    twilio.fault(operation="DeleteKey", kind="commit_then_hang", times=1)
    kubectl.run("delete", KEY, "gone", "-n", namespace, "--wait=false")
    wait_for(lambda: len(keys_named(twilio, f"{namespace}/gone")) == 1, 30, what="the first key deleted")
    operator.kill()
    twilio.clear_faults()
    operator.start()

    wait_for(lambda: kubectl.get(KEY, "gone", namespace) is None, 60, what="the ApiKey to be gone")
    assert keys_named(twilio, f"{namespace}/gone") == []


def test_crash_mid_deletion_of_a_service(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    subaccount(kubectl, namespace)
    kubectl.apply(manifest("MessagingService", "gone", subaccountRef={"name": "sub"}), namespace)
    helpers.ready(kubectl, SERVICE, "gone", namespace)
    twilio.fault(operation="DeleteService", kind="commit_then_hang", times=1)
    kubectl.run("delete", SERVICE, "gone", "-n", namespace, "--wait=false")
    wait_for(
        lambda: not services_named(twilio, f"{namespace}/gone"), 30, what="the service deleted in Twilio"
    )
    operator.kill()
    twilio.clear_faults()
    operator.start()

    wait_for(lambda: kubectl.get(SERVICE, "gone", namespace) is None, 60, what="the MessagingService gone")


@pytest.mark.parametrize(
    ("kind", "operation"), [("ApiKey", "CreateNewKey"), ("MessagingService", "CreateService")]
)
def test_deleted_while_its_create_was_in_flight_leaves_nothing_in_twilio(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess, kind: str, operation: str
) -> None:
    subaccount(kubectl, namespace)
    named = keys_named if kind == "ApiKey" else services_named
    twilio.fault(operation=operation, kind="commit_then_hang", times=1)
    kubectl.apply(manifest(kind, "late", subaccountRef={"name": "sub"}), namespace)
    wait_for(lambda: named(twilio, f"{namespace}/late"), 30, what=f"the {kind} created in Twilio")
    operator.kill()
    twilio.clear_faults()
    # The user gives up on it while the operator is down; its finalizer holds it until the operator is back.
    kubectl.run("delete", kind.lower(), "late", "-n", namespace, "--wait=false")
    operator.start()

    wait_for(lambda: kubectl.get(kind.lower(), "late", namespace) is None, 60, what=f"the {kind} gone")
    assert named(twilio, f"{namespace}/late") == [], (
        "the object Twilio created just before the crash outlived its resource (deletionPolicy Delete)"
    )


@pytest.mark.parametrize("kind", ["ApiKey", "MessagingService"])
def test_deleted_after_its_sid_was_recorded_but_before_its_status_leaves_nothing_in_twilio(
    kubectl: Kubectl,
    namespace: str,
    twilio: TwilioSide,
    kube: KubeControl,
    operator: OperatorProcess,
    kind: str,
) -> None:
    subaccount(kubectl, namespace)
    seq, twilio_seq = kube.next_seq(), twilio.last_seq()
    if kind == "ApiKey":
        # The key is created and recorded; storing its secret fails, so the pass never completes its status.
        kube.fault(
            method="POST", path_regex=f"^/api/v1/namespaces/{namespace}/secrets$", status=500, times=None
        )
        kubectl.apply(manifest(kind, "half", subaccountRef={"name": "sub"}, onSecretLoss="Fail"), namespace)
        wait_for(
            lambda: helpers.kube_writes(kube, seq, "POST", f"/namespaces/{namespace}/secrets"),
            30,
            what="the Secret write to fail",
        )
        named = keys_named
    else:
        # The service is created and recorded; the pass dies while adding its sender.
        twilio.fault(operation="CreateAlphaSender", kind="commit_then_hang", times=1)
        spec: dict[str, Any] = {"subaccountRef": {"name": "sub"}, "senders": {"alphaSenders": ["ACME"]}}
        kubectl.apply(manifest(kind, "half", **spec), namespace)
        wait_for(
            lambda: any(r["operation"] == "CreateAlphaSender" for r in twilio.requests_since(twilio_seq)),
            30,
            what="the sender added in Twilio",
        )
        named = services_named
    obj = kubectl.get(kind.lower(), "half", namespace) or {}
    assert obj["metadata"]["annotations"].get("twilio.operator.dev/external-name")
    assert not (obj.get("status") or {}).get("accountSid")
    operator.kill()
    twilio.clear_faults()
    kube.clear_faults()
    kubectl.run("delete", kind.lower(), "half", "-n", namespace, "--wait=false")
    operator.start()

    wait_for(lambda: kubectl.get(kind.lower(), "half", namespace) is None, 60, what=f"the {kind} gone")
    assert named(twilio, f"{namespace}/half") == [], (
        "its SID was recorded, but deletion skipped Twilio because status.accountSid was never written"
    )


# --- EventStream: the sink replacement -------------------------------------------------------------------

STREAM = "eventstream"
DELIVERED = "com.twilio.messaging.message.delivered"


def stream(url: str) -> str:
    return manifest(
        "EventStream",
        "events",
        subaccountRef={"name": "sub"},
        destination={"webhook": {"url": url}},
        types=[DELIVERED],
    )


def sinks_of(twilio: TwilioSide, account: str) -> list[dict[str, Any]]:
    return [s for s in twilio.state()["sinks"] if s["account"] == account]


@pytest.mark.parametrize(
    "operation",
    [
        "CreateSink",  # the new sink made, its SID not recorded yet
        "UpdateSubscription",  # the subscription moved to it, the old sink not deleted yet
        "DeleteSink",  # the old sink deleted, status not written
    ],
)
def test_crash_mid_sink_replacement_keeps_one_subscription_and_ends_with_one_sink(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess, operation: str
) -> None:
    sub = subaccount(kubectl, namespace)
    kubectl.apply(stream("https://old.example.com/twilio/events"), namespace)
    first = helpers.ready(kubectl, STREAM, "events", namespace)["status"]
    seq = twilio.last_seq()
    twilio.fault(operation=operation, kind="commit_then_hang", times=1)
    kubectl.apply(stream("https://new.example.com/twilio/events"), namespace)
    wait_for(
        lambda: any(r["operation"] == operation for r in twilio.requests_since(seq)), 30, what=f"{operation}"
    )
    operator.kill()
    twilio.clear_faults()
    operator.start()

    def converged() -> dict[str, Any] | None:
        obj = settled(kubectl, STREAM, "events", namespace)
        held = sinks_of(twilio, sub)
        urls = [s["configuration"]["destination"] for s in held]
        return obj if urls == ["https://new.example.com/twilio/events"] else None

    try:
        obj = wait_for(converged, 60, what="one sink, at the new destination")
    except AssertionError:
        raise AssertionError(
            f"sinks {sinks_of(twilio, sub)}; object {kubectl.get(STREAM, 'events', namespace)}"
        ) from None
    assert_ready(obj)
    status = obj["status"]
    assert status["subscriptionSid"] == first["subscriptionSid"] and status["sinkSid"] != first["sinkSid"]
    [held] = [s for s in twilio.state()["subscriptions"] if s["account"] == sub]
    assert (held["sid"], held["sink"]) == (first["subscriptionSid"], status["sinkSid"])
    # The subscription was never deleted and remade: events kept flowing through the replacement.
    assert not [r for r in twilio.requests_since(seq) if r["operation"] == "DeleteSubscription"]


# --- PhoneNumber: the exchange and the purchase -----------------------------------------------------------

NUMBER = "phonenumber"


def numbers_of(twilio: TwilioSide, account: str) -> list[dict[str, Any]]:
    return [n for n in twilio.state()["incoming_phone_numbers"] if n["account"] == account]


def test_crash_after_the_exchange_before_the_sid_is_recorded(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    sub = subaccount(kubectl, namespace)
    number = f"+1917{zlib.crc32(namespace.encode()) % 10**7:07d}"
    sid = str(
        twilio.client()
        .api.v2010.accounts(twilio.parent_sid)
        .incoming_phone_numbers.create(phone_number=number)
        .sid
    )
    twilio.fault(operation="UpdateIncomingPhoneNumber", kind="commit_then_hang", times=1)
    kubectl.apply(
        manifest("PhoneNumber", "line", subaccountRef={"name": "sub"}, phoneNumber=number), namespace
    )
    wait_for(lambda: [n["sid"] for n in numbers_of(twilio, sub)] == [sid], 30, what="the number moved")
    recorded = (kubectl.get(NUMBER, "line", namespace) or {})["metadata"].get("annotations") or {}
    assert "twilio.operator.dev/external-name" not in recorded
    operator.kill()
    twilio.clear_faults()
    operator.start()

    obj = settled(kubectl, NUMBER, "line", namespace)
    assert_ready(obj)
    assert (obj["status"]["sid"], obj["status"]["accountSid"]) == (sid, sub)
    # kopf posts Events from a queue of its own: the one saying so may arrive after the status.
    wait_for(
        lambda: "Adopted" in [e["reason"] for e in events(kubectl, namespace, "line")], 30, what="Adopted"
    )


@pytest.mark.parametrize("moment", ["the purchase answered", "the purchase recorded"])
def test_a_purchase_buys_at_most_one_number_across_a_crash(
    kubectl: Kubectl,
    namespace: str,
    twilio: TwilioSide,
    kube: KubeControl,
    operator: OperatorProcess,
    moment: str,
) -> None:
    sub = subaccount(kubectl, namespace)
    seq = twilio.last_seq()
    if moment == "the purchase answered":
        # Twilio bought it and the answer never came: the SID is unknown to the operator.
        twilio.fault(operation="CreateIncomingPhoneNumber", kind="commit_then_hang", times=1)
    else:
        # Bought and recorded; the pass dies before its status is written.
        status_path = (
            f"^/apis/twilio.operator.dev/v1alpha1/namespaces/{namespace}/phonenumbers/bought/status$"
        )
        kube.fault(method="PATCH", path_regex=status_path, status=500, times=None)
    kubectl.apply(
        manifest("PhoneNumber", "bought", subaccountRef={"name": "sub"}, purchase={"areaCode": "628"}),
        namespace,
    )
    wait_for(lambda: numbers_of(twilio, sub), 30, what="the number bought")
    if moment == "the purchase recorded":
        wait_for(
            lambda: (
                "twilio.operator.dev/external-name"
                in ((kubectl.get(NUMBER, "bought", namespace) or {})["metadata"].get("annotations") or {})
            ),
            30,
            what="the purchase recorded",
        )
    operator.kill()
    twilio.clear_faults()
    kube.clear_faults()
    operator.start()

    obj = settled(kubectl, NUMBER, "bought", namespace)
    assert_ready(obj)
    mine = numbers_of(twilio, sub)
    assert [n["sid"] for n in mine] == [obj["status"]["sid"]], f"more than one number bought: {mine}"
    assert obj["status"]["purchased"] is True
    bought = [r for r in twilio.requests_since(seq) if r["operation"] == "CreateIncomingPhoneNumber"]
    assert len(bought) == 1, bought
