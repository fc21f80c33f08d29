"""MessagingService end to end: every setting, webhooks from a live Ingress, and the sender pool."""

from __future__ import annotations

import json
from typing import Any

from tests.e2e import helpers
from tests.support.twilio_side import TwilioSide
from twilio_operator.sandbox.kubectl import Kubectl
from twilio_operator.sandbox.processes import OperatorProcess, wait_for

KIND = "messagingservice"
EVERY_SETTING = {
    "usecase": "notifications",
    "stickySender": False,
    "mmsConverter": False,
    "smartEncoding": False,
    "scanMessageContent": "disable",
    "fallbackToLongCode": False,
    "areaCodeGeomatch": False,
    "validityPeriod": 600,
    "synchronousValidation": True,
    "useInboundWebhookOnNumber": True,
}
TWILIO_NAMES = {
    "usecase": "usecase",
    "stickySender": "sticky_sender",
    "mmsConverter": "mms_converter",
    "smartEncoding": "smart_encoding",
    "scanMessageContent": "scan_message_content",
    "fallbackToLongCode": "fallback_to_long_code",
    "areaCodeGeomatch": "area_code_geomatch",
    "validityPeriod": "validity_period",
    "synchronousValidation": "synchronous_validation",
    "useInboundWebhookOnNumber": "use_inbound_webhook_on_number",
}


def service_manifest(name: str, **spec: Any) -> str:
    spec.setdefault("subaccountRef", {"name": "sub"})
    return helpers.manifest("MessagingService", name, **spec)


def ingress(name: str, hosts: dict[str, list[str]], tls: list[str] | None = None) -> str:
    rules = [
        {
            "host": host,
            "http": {
                "paths": [
                    {
                        "path": path,
                        "pathType": "Prefix",
                        "backend": {"service": {"name": "receiver", "port": {"number": 80}}},
                    }
                    for path in paths
                ]
            },
        }
        for host, paths in hosts.items()
    ]
    spec: dict[str, Any] = {"rules": rules}
    if tls:
        spec["tls"] = [{"hosts": tls, "secretName": "tls"}]
    body = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": name}, "spec": spec}
    return json.dumps(body)


def with_subaccount(kubectl: Kubectl, namespace: str) -> str:
    kubectl.apply(helpers.manifest("TwilioSubaccount", "sub"), namespace)
    return str(helpers.ready(kubectl, "twiliosubaccount", "sub", namespace)["status"]["sid"])


def service(twilio: TwilioSide, sid: str) -> dict[str, Any]:
    return next(s for s in twilio.state()["services"] if s["sid"] == sid)


def test_every_setting_reaches_twilio_and_each_can_be_updated_and_removed(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    sub = with_subaccount(kubectl, namespace)
    webhooks = {
        "inboundRequest": {"url": "https://hooks.example.com/in", "method": "GET"},
        "fallback": {"url": "https://hooks.example.com/fallback", "method": "POST"},
        "statusCallback": {"url": "https://hooks.example.com/status"},
    }
    kubectl.apply(service_manifest("svc", webhooks=webhooks, **EVERY_SETTING), namespace)
    sid = helpers.ready(kubectl, KIND, "svc", namespace)["status"]["sid"]
    held = service(twilio, sid)
    assert held["account"] == sub and held["friendly_name"] == f"{namespace}/svc"
    for field, value in EVERY_SETTING.items():
        assert held["settings"][TWILIO_NAMES[field]] == value, field
    assert held["settings"]["inbound_request_url"] == "https://hooks.example.com/in"
    assert held["settings"]["inbound_method"] == "GET"
    assert held["settings"]["fallback_url"] == "https://hooks.example.com/fallback"
    assert held["settings"]["status_callback"] == "https://hooks.example.com/status"

    changed = {**EVERY_SETTING, "usecase": "marketing", "validityPeriod": 900, "stickySender": True}
    kubectl.apply(service_manifest("svc", webhooks=webhooks, friendlyName="renamed", **changed), namespace)
    wait_for(lambda: service(twilio, sid)["settings"]["validity_period"] == 900, 30, what="the update")
    held = service(twilio, sid)
    assert held["friendly_name"] == "renamed" and held["settings"]["usecase"] == "marketing"
    assert held["settings"]["sticky_sender"] is True

    # Removing fields returns them to Twilio's defaults; a removed URL is cleared.
    kubectl.apply(service_manifest("svc", webhooks={"fallback": webhooks["fallback"]}), namespace)
    wait_for(
        lambda: service(twilio, sid)["settings"]["usecase"] == "undeclared", 30, what="defaults restored"
    )
    settings = service(twilio, sid)["settings"]
    assert settings["inbound_request_url"] is None and settings["status_callback"] is None
    assert settings["fallback_url"] == "https://hooks.example.com/fallback"
    assert settings["sticky_sender"] is True and settings["validity_period"] == 36000
    assert helpers.ready(kubectl, KIND, "svc", namespace)["status"]["sid"] == sid


def test_fields_left_out_are_left_as_twilio_has_them(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    with_subaccount(kubectl, namespace)
    kubectl.apply(service_manifest("loose", usecase="poll"), namespace)
    sid = helpers.ready(kubectl, KIND, "loose", namespace)["status"]["sid"]
    client = twilio.client().api.v2010.accounts(service(twilio, sid)["account"]).fetch()
    sub_client = twilio.client(client.sid, client.auth_token)
    sub_client.messaging.v1.services(sid).update(sticky_sender=False)
    # A console change to a field the spec doesn't declare survives drift passes.
    helpers.ready(kubectl, KIND, "loose", namespace)
    seq = twilio.last_seq()
    wait_for(
        lambda: any(r["operation"] in ("FetchService", "ListService") for r in twilio.requests_since(seq)),
        20,
        what="a drift pass",
    )
    assert service(twilio, sid)["settings"]["sticky_sender"] is False


def test_webhooks_follow_the_ingress(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    with_subaccount(kubectl, namespace)
    ref = {"ingressRef": {"name": "hooks", "path": "/twilio/status"}}
    kubectl.apply(service_manifest("hooked", webhooks={"statusCallback": ref}), namespace)
    # No Ingress yet.
    helpers.reason(kubectl, KIND, "hooked", namespace, "Ready", "IngressNotFound")
    kubectl.apply(ingress("hooks", {"sms.example.com": ["/twilio"]}, tls=["sms.example.com"]), namespace)
    obj = helpers.ready(kubectl, KIND, "hooked", namespace)
    sid = obj["status"]["sid"]
    assert obj["status"]["webhooks"]["statusCallback"] == "https://sms.example.com/twilio/status"
    assert service(twilio, sid)["settings"]["status_callback"] == "https://sms.example.com/twilio/status"

    # Host change propagates.
    kubectl.apply(ingress("hooks", {"sms2.example.com": ["/twilio"]}, tls=["sms2.example.com"]), namespace)
    wait_for(
        lambda: (
            service(twilio, sid)["settings"]["status_callback"] == "https://sms2.example.com/twilio/status"
        ),
        30,
        what="the new host in Twilio",
    )
    # TLS removed: the scheme flips, with a Warning event.
    kubectl.apply(ingress("hooks", {"sms2.example.com": ["/twilio"]}), namespace)
    wait_for(
        lambda: (
            service(twilio, sid)["settings"]["status_callback"] == "http://sms2.example.com/twilio/status"
        ),
        30,
        what="http in Twilio",
    )
    wait_for(
        lambda: "InsecureWebhook" in kubectl.run("get", "events", "-n", namespace, "-o", "json").stdout,
        10,
        what="an InsecureWebhook event",
    )
    # A path no rule routes is reported, not used.
    kubectl.apply(ingress("hooks", {"sms2.example.com": ["/other"]}), namespace)
    helpers.reason(kubectl, KIND, "hooked", namespace, "Ready", "PathNotRouted")
    assert service(twilio, sid)["settings"]["status_callback"] == "http://sms2.example.com/twilio/status"
    # Several hosts without ingressRef.host.
    kubectl.apply(ingress("hooks", {"a.example.com": ["/"], "b.example.com": ["/"]}), namespace)
    helpers.reason(kubectl, KIND, "hooked", namespace, "Ready", "IngressHasNoHost")
    # Deleted, then recreated.
    kubectl.run("delete", "ingress", "hooks", "-n", namespace)
    helpers.reason(kubectl, KIND, "hooked", namespace, "Ready", "IngressNotFound")
    kubectl.apply(ingress("hooks", {"back.example.com": ["/twilio"]}, tls=["back.example.com"]), namespace)
    wait_for(
        lambda: (
            service(twilio, sid)["settings"]["status_callback"] == "https://back.example.com/twilio/status"
        ),
        30,
        what="the recreated Ingress's URL",
    )
    helpers.ready(kubectl, KIND, "hooked", namespace)
    # Every change was the Ingress's, none made in Twilio: updates naming their cause, never drift.
    told = [(e["reason"], e["message"]) for e in helpers.events(kubectl, namespace, "hooked")]
    assert "DriftCorrected" not in [reason for reason, _ in told], told
    assert any(r == "Updated" and "status_callback" in m and "ingresses hooks" in m for r, m in told), told


def test_a_literal_http_url_gets_the_same_warning_as_one_from_an_ingress(
    kubectl: Kubectl, namespace: str, operator: OperatorProcess
) -> None:
    with_subaccount(kubectl, namespace)
    plain = {"statusCallback": {"url": "http://hooks.example.com/status"}}
    kubectl.apply(service_manifest("plain", webhooks=plain), namespace)
    helpers.ready(kubectl, KIND, "plain", namespace)
    warned = wait_for(
        lambda: [e for e in helpers.events(kubectl, namespace, "plain") if e["reason"] == "InsecureWebhook"],
        15,
        what="an InsecureWebhook Warning",
    )
    assert (
        warned[0]["type"] == "Warning"
        and "http://hooks.example.com/status is not HTTPS" in warned[0]["message"]
    )


def test_sender_pool_is_reconciled_as_a_set(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    sub = with_subaccount(kubectl, namespace)
    pn1 = twilio.call("POST", f"accounts/{sub}/incoming-phone-numbers", {"phone_number": "+14155550101"})[
        "sid"
    ]
    pn2 = twilio.call("POST", f"accounts/{sub}/incoming-phone-numbers", {"phone_number": "+14155550102"})[
        "sid"
    ]
    sc = twilio.call("POST", f"accounts/{sub}/short-codes", {"short_code": "24680"})["sid"]
    senders = {"phoneNumbers": [pn1, "+14155550102"], "shortCodes": [sc], "alphaSenders": ["ACME"]}
    kubectl.apply(service_manifest("pool", senders=senders), namespace)
    obj = helpers.ready(kubectl, KIND, "pool", namespace)
    sid = obj["status"]["sid"]
    held = service(twilio, sid)["senders"]
    assert sorted(n["sid"] for n in held["phone_numbers"]) == sorted([pn1, pn2])
    assert [c["sid"] for c in held["short_codes"]] == [sc]
    assert [a["alpha_sender"] for a in held["alpha_senders"]] == ["ACME"]
    assert obj["status"]["senders"]["phoneNumbers"] == sorted([pn1, pn2])

    kubectl.apply(
        service_manifest("pool", senders={"phoneNumbers": [pn2], "shortCodes": [], "alphaSenders": []}),
        namespace,
    )

    def pool() -> tuple[list[str], list[str], list[str]]:
        held = service(twilio, sid)["senders"]
        return (
            [n["sid"] for n in held["phone_numbers"]],
            [c["sid"] for c in held["short_codes"]],
            [a["alpha_sender"] for a in held["alpha_senders"]],
        )

    # The kinds are converged one after another: wait for the whole pool, not just its first kind.
    wait_for(lambda: pool() == ([pn2], [], []), 30, what="removal")

    # Drift: a number added in the console is removed again, with an Event naming it.
    account = twilio.client().api.v2010.accounts(sub).fetch()
    sub_client = twilio.client(sub, account.auth_token)
    sub_client.messaging.v1.services(sid).phone_numbers.create(phone_number_sid=pn1)
    wait_for(
        lambda: [n["sid"] for n in service(twilio, sid)["senders"]["phone_numbers"]] == [pn2],
        30,
        what="drift",
    )
    wait_for(
        lambda: f"removed {pn1}" in kubectl.run("get", "events", "-n", namespace, "-o", "json").stdout,
        10,
        what="a DriftCorrected event naming the sender",
    )


def test_sender_problems_are_reported_by_name_while_the_rest_is_managed(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    sub = with_subaccount(kubectl, namespace)
    pn = twilio.call("POST", f"accounts/{sub}/incoming-phone-numbers", {"phone_number": "+14155550201"})[
        "sid"
    ]
    kubectl.apply(service_manifest("first", senders={"phoneNumbers": [pn]}), namespace)
    helpers.ready(kubectl, KIND, "first", namespace)
    kubectl.apply(
        service_manifest("second", senders={"phoneNumbers": [pn], "alphaSenders": ["ACME"]}), namespace
    )
    cond = helpers.reason(kubectl, KIND, "second", namespace, "Synced", "SenderInUse")
    assert pn in cond["message"]
    obj = kubectl.get(KIND, "second", namespace) or {}
    assert helpers.conditions(obj)["Ready"]["status"] == "True"
    # The rest of the service is still managed: the alpha sender is there.
    assert [a["alpha_sender"] for a in service(twilio, obj["status"]["sid"])["senders"]["alpha_senders"]] == [
        "ACME"
    ]

    kubectl.apply(service_manifest("third", senders={"phoneNumbers": ["+19995550000"]}), namespace)
    cond = helpers.reason(kubectl, KIND, "third", namespace, "Synced", "SenderNotFound")
    assert "+19995550000" in cond["message"]


def test_console_drift_of_settings_and_urls_is_corrected(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    sub = with_subaccount(kubectl, namespace)
    kubectl.apply(
        service_manifest(
            "steady", usecase="verification", webhooks={"statusCallback": {"url": "https://x.example.com/s"}}
        ),
        namespace,
    )
    sid = helpers.ready(kubectl, KIND, "steady", namespace)["status"]["sid"]
    account = twilio.client().api.v2010.accounts(sub).fetch()
    twilio.client(sub, account.auth_token).messaging.v1.services(sid).update(
        usecase="marketing", status_callback=""
    )
    wait_for(
        lambda: (
            service(twilio, sid)["settings"]["usecase"] == "verification"
            and service(twilio, sid)["settings"]["status_callback"] == "https://x.example.com/s"
        ),
        30,
        what="drift corrected",
    )
    wait_for(
        lambda: "DriftCorrected" in kubectl.run("get", "events", "-n", namespace, "-o", "json").stdout,
        10,
        what="a DriftCorrected event",
    )


def test_deletion_policies(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    with_subaccount(kubectl, namespace)
    kubectl.apply(service_manifest("gone"), namespace)
    kubectl.apply(service_manifest("kept", deletionPolicy="Orphan"), namespace)
    gone = helpers.ready(kubectl, KIND, "gone", namespace)["status"]["sid"]
    kept = helpers.ready(kubectl, KIND, "kept", namespace)["status"]["sid"]
    kubectl.run("delete", KIND, "gone", "kept", "-n", namespace, "--wait=true", "--timeout=60s")
    sids = {s["sid"] for s in twilio.state()["services"]}
    assert gone not in sids and kept in sids


def test_crash_between_create_and_recording_the_sid_leaves_one_service(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    sub = with_subaccount(kubectl, namespace)
    twilio.fault(operation="CreateService", kind="commit_then_hang", times=1)
    try:
        kubectl.apply(service_manifest("crashy"), namespace)
        wait_for(
            lambda: [s for s in twilio.state()["services"] if s["friendly_name"] == f"{namespace}/crashy"],
            30,
            what="the service created in Twilio",
        )
        operator.kill()
    finally:
        twilio.clear_faults()
    operator.start()
    obj = helpers.ready(kubectl, KIND, "crashy", namespace, timeout=60)
    found = [
        s
        for s in twilio.state()["services"]
        if s["account"] == sub and s["friendly_name"] == f"{namespace}/crashy"
    ]
    assert [s["sid"] for s in found] == [obj["status"]["sid"]]


def test_restart_makes_no_writes(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    sub = with_subaccount(kubectl, namespace)
    for i in range(3):
        kubectl.apply(
            service_manifest(f"s{i}", usecase="notifications", senders={"alphaSenders": [f"ACME{i}"]}),
            namespace,
        )
    before = {i: helpers.ready(kubectl, KIND, f"s{i}", namespace)["status"] for i in range(3)}
    operator.stop()
    seq = twilio.last_seq()
    operator.start()
    wait_for(
        lambda: all(
            (kubectl.get(KIND, f"s{i}", namespace) or {})["status"]["lastSyncTime"]
            > before[i]["lastSyncTime"]
            for i in range(3)
        ),
        40,
        what="every service re-observed",
    )
    mine = {b["sid"] for b in before.values()}
    assert [
        w for w in twilio.writes_since(seq) if any(s in w["path"] for s in mine) or w["principal"] == sub
    ] == []


def test_rate_limits_and_server_errors_still_give_exactly_one_service(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    sub = with_subaccount(kubectl, namespace)
    for operation in ("CreateService", "FetchService", "UpdateService", "ListService", "CreateAlphaSender"):
        twilio.fault(operation=operation, kind="status", status=429, times=2)
        twilio.fault(operation=operation, kind="status", status=503, times=1)
    try:
        for i in range(3):
            kubectl.apply(
                service_manifest(f"f{i}", usecase="poll", senders={"alphaSenders": ["ACME"]}), namespace
            )
        objs = [helpers.ready(kubectl, KIND, f"f{i}", namespace, timeout=90) for i in range(3)]
    finally:
        twilio.clear_faults()
    for i, obj in enumerate(objs):
        found = [
            s
            for s in twilio.state()["services"]
            if s["account"] == sub and s["friendly_name"] == f"{namespace}/f{i}"
        ]
        assert [s["sid"] for s in found] == [obj["status"]["sid"]]


def test_parent_credentials_never_touch_a_subaccount_service(
    twilio: TwilioSide, operator: OperatorProcess
) -> None:
    # Every messaging request the operator made was authenticated as the service's own account: the
    # emulator refuses parent credentials on a subaccount's v1 service with a 404, which would show here.
    messaging = [
        r for r in twilio.requests_since(0) if r["host"] == "messaging.twilio.com" and r["status"] == 404
    ]
    parent = [r for r in messaging if r.get("auth_sid") == twilio.parent_sid]
    assert parent == []
