"""A subaccount's usage end to end: this month's figures in status, columns and metrics, usage alerts as
Twilio Usage Triggers whose firing becomes a Warning Event, and message archives (BulkExports)."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.e2e import helpers
from tests.e2e.test_messagingservice import ingress
from tests.e2e.test_metrics import Samples, samples, scrape
from tests.support.twilio_side import TwilioSide
from twilio_operator.sandbox.kubectl import Kubectl
from twilio_operator.sandbox.processes import OperatorProcess, wait_for

KIND = "twiliosubaccount"


def gauge(found: Samples, metric: str, **labels: str) -> float:
    return found.get((metric, frozenset(labels.items())), 0.0)


class Collector:
    """A callback receiver on loopback (the emulator posts to loopback URLs directly)."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, str]]] = []
        found = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                found.append((self.path, form))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def collector() -> Iterator[Collector]:
    found = Collector()
    yield found
    found.server.shutdown()


def _numbers() -> Iterator[str]:
    for n in range(1000):
        yield f"+1415556{n:04d}"


NUMBERS = _numbers()


def send(twilio: TwilioSide, sub: str, count: int) -> None:
    """Messages sent by the subaccount from a number of its own, as an application would."""
    number = next(NUMBERS)
    twilio.call("POST", f"accounts/{sub}/incoming-phone-numbers", {"phone_number": number})
    client = twilio.client()
    for _ in range(count):
        client.api.v2010.accounts(sub).messages.create(to="+14155550199", from_=number, body="usage")


def sent_in(twilio: TwilioSide, sub: str) -> int:
    """Messages of the account that Twilio sent (and so bills), once every message is settled."""
    messages = [m for m in twilio.call("GET", "messages")["messages"] if m["account_sid"] == sub]
    if not all(m["settled"] for m in messages):
        return -1
    return sum(1 for m in messages if m["final_status"] != "failed")


def triggers(twilio: TwilioSide, sub: str) -> list[dict[str, Any]]:
    return [t for t in twilio.state()["usage_triggers"] if t["account"] == sub]


def subaccount(kubectl: Kubectl, namespace: str, name: str, **spec: Any) -> str:
    kubectl.apply(helpers.manifest("TwilioSubaccount", name, **spec), namespace)
    return str(helpers.ready(kubectl, KIND, name, namespace)["status"]["sid"])


def test_this_months_usage_in_status_columns_and_metrics(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess, metrics_port: int
) -> None:
    sub = subaccount(kubectl, namespace, "spend")
    send(twilio, sub, 6)
    expected = wait_for(
        lambda: sent_in(twilio, sub) if sent_in(twilio, sub) >= 0 else None, 30, what="settled"
    )

    def counted() -> dict[str, Any] | None:
        obj = kubectl.get(KIND, "spend", namespace)
        usage = (obj or {}).get("status", {}).get("usage") or {}
        return obj if usage.get("smsOutbound") == expected else None

    obj = wait_for(counted, 30, what=f"status.usage.smsOutbound == {expected}")
    usage = obj["status"]["usage"]
    assert usage["messages"] == expected and usage["mmsOutbound"] == 0
    assert float(usage["totalPrice"]) == pytest.approx(expected * 0.0079)
    assert usage["priceUnit"] == "USD" and usage["spend"] == f"{expected * 0.0079:.2f} USD"
    assert obj["status"]["usageAsOf"]
    # `kubectl get tsub` answers what each environment costs this month.
    table = kubectl.run("get", "tsub", "spend", "-n", namespace).stdout
    header, row = table.splitlines()[:2]
    assert "MESSAGES" in header and "SPEND" in header
    assert f" {expected} " in row and f"{expected * 0.0079:.2f} USD" in row
    # The Finance view: per-subaccount gauges on the operator's /metrics, labelled by the object.

    def exported() -> dict[Any, float] | None:
        text = scrape(metrics_port)
        found = samples(text) if text else {}
        count = gauge(
            found,
            "twilio_operator_subaccount_usage_count",
            namespace=namespace,
            name="spend",
            category="sms-outbound",
        )
        return found if count == expected else None

    found = wait_for(exported, 30, what="usage gauges")
    spend = gauge(
        found, "twilio_operator_subaccount_spend", namespace=namespace, name="spend", currency="USD"
    )
    assert spend == pytest.approx(expected * 0.0079)
    # The series go with the object.
    kubectl.run("delete", KIND, "spend", "-n", namespace, "--wait=true")

    def gone() -> bool:
        text = scrape(metrics_port) or ""
        return f'namespace="{namespace}",name="spend"' not in text.replace(", ", ",")

    wait_for(gone, 30, what="usage series removed")


def test_a_usage_alert_is_a_trigger_and_its_firing_a_warning_event(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess, collector: Collector
) -> None:
    hook = f"{collector.url}/twilio/usage"
    alert = {
        "name": "three-sent",
        "category": "sms",
        "triggerBy": "count",
        "value": "3",
        "recurring": "monthly",
    }
    sub = subaccount(kubectl, namespace, "alerted", usageAlerts=[alert], usageCallback={"url": hook})
    (made,) = triggers(twilio, sub)
    assert made["friendly_name"] == "twilio-operator/three-sent"
    assert made["callback_url"] == f"{hook}?alert=three-sent"
    assert (made["usage_category"], made["trigger_by"], made["trigger_value"], made["recurring"]) == (
        "sms",
        "count",
        3.0,
        "monthly",
    )
    status = kubectl.get(KIND, "alerted", namespace)["status"]  # type: ignore[index]
    assert [(a["name"], a["sid"]) for a in status["usageAlerts"]] == [("three-sent", made["sid"])]
    send(twilio, sub, 8)
    # Twilio fires the trigger (a signed callback to the receiver), and the operator tells the object.
    wait_for(lambda: any(p.startswith("/twilio/usage?alert=three-sent") for p, _ in collector.received), 30)

    def fired() -> dict[str, Any] | None:
        found = [e for e in helpers.events(kubectl, namespace, "alerted") if e["reason"] == "UsageAlert"]
        return found[0] if found else None

    event = wait_for(fired, 30, what="a UsageAlert Event")
    assert event["type"] == "Warning"
    assert "usage alert three-sent fired" in event["message"] and "threshold 3, monthly" in event["message"]
    status = kubectl.get(KIND, "alerted", namespace)["status"]  # type: ignore[index]
    assert status["usageAlerts"][0]["dateFired"] and float(status["usageAlerts"][0]["currentValue"]) >= 3


def test_alert_changes_replace_or_update_the_trigger_and_drift_is_corrected(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess, collector: Collector
) -> None:
    hook = f"{collector.url}/twilio/usage"
    alert = {"name": "spend", "category": "totalprice", "triggerBy": "price", "value": "500"}
    sub = subaccount(kubectl, namespace, "changing", usageAlerts=[alert], usageCallback={"url": hook})
    (first,) = triggers(twilio, sub)
    # Someone's own trigger, made in the Console: never the operator's to touch.
    console = (
        twilio.client()
        .api.v2010.accounts(sub)
        .usage.triggers.create(
            callback_url="https://example.com/mine", trigger_value="10", usage_category="sms"
        )
    )
    # A threshold cannot change in place: the trigger is replaced.
    kubectl.apply(
        helpers.manifest(
            "TwilioSubaccount",
            "changing",
            usageAlerts=[{**alert, "value": "750.5", "recurring": "daily"}],
            usageCallback={"url": hook},
        ),
        namespace,
    )
    helpers.ready(kubectl, KIND, "changing", namespace)
    ours = [t for t in triggers(twilio, sub) if t["sid"] != console.sid]
    assert len(ours) == 1 and ours[0]["sid"] != first["sid"]
    assert (ours[0]["trigger_value"], ours[0]["recurring"]) == (750.5, "daily")
    # The callback changes in place.
    kubectl.apply(
        helpers.manifest(
            "TwilioSubaccount",
            "changing",
            usageAlerts=[{**alert, "value": "750.5", "recurring": "daily"}],
            usageCallback={"url": hook + "2", "method": "POST"},
        ),
        namespace,
    )
    helpers.ready(kubectl, KIND, "changing", namespace)
    (now,) = [t for t in triggers(twilio, sub) if t["sid"] != console.sid]
    assert now["sid"] == ours[0]["sid"] and now["callback_url"] == f"{hook}2?alert=spend"
    # Deleted in Twilio: made again, and said so.
    twilio.client().api.v2010.accounts(sub).usage.triggers(now["sid"]).delete()

    def remade() -> list[dict[str, Any]] | None:
        found = [t for t in triggers(twilio, sub) if t["sid"] not in (console.sid, now["sid"])]
        return found or None

    wait_for(remade, 30, what="the deleted trigger made again")
    wait_for(
        lambda: any(
            e["reason"] == "DriftCorrected" and "usage triggers" in e["message"]
            for e in helpers.events(kubectl, namespace, "changing")
        ),
        30,
    )
    # Two with the alert's name (an interrupted create): one stays.
    twilio.client().api.v2010.accounts(sub).usage.triggers.create(
        callback_url=f"{hook}2?alert=spend",
        trigger_value="750.5",
        usage_category="totalprice",
        trigger_by="price",
        recurring="daily",
        friendly_name="twilio-operator/spend",
    )
    wait_for(lambda: len([t for t in triggers(twilio, sub) if t["sid"] != console.sid]) == 1, 30)
    # Removed from the spec: deleted in Twilio; the Console's trigger stays.
    kubectl.apply(helpers.manifest("TwilioSubaccount", "changing"), namespace)
    helpers.ready(kubectl, KIND, "changing", namespace)
    assert [t["sid"] for t in triggers(twilio, sub)] == [console.sid]
    assert "usageAlerts" not in kubectl.get(KIND, "changing", namespace)["status"]  # type: ignore[index]


def test_alerts_without_a_callback_are_refused_by_the_schema(kubectl: Kubectl, namespace: str) -> None:
    alert = {"name": "spend", "category": "totalprice", "triggerBy": "price", "value": "500"}
    body = helpers.manifest("TwilioSubaccount", "uncalled", usageAlerts=[alert])
    result = kubectl.run("apply", "-n", namespace, "-f", "-", input=body, check=False)
    assert result.returncode != 0
    assert "spec.usageCallback: Invalid value: usageAlerts need usageCallback" in result.stderr


@pytest.mark.parametrize(
    ("field", "bad", "said"),
    [
        ("category", "totalprices", "Unsupported value"),
        ("value", "+30", "should match"),
        ("recurring", "weekly", "Unsupported value"),
        ("name", "Monthly_Spend", "should match"),
    ],
)
def test_the_schema_refuses_bad_alerts(
    kubectl: Kubectl, namespace: str, field: str, bad: str, said: str
) -> None:
    alert = {"name": "spend", "category": "totalprice", "value": "500", field: bad}
    body = helpers.manifest(
        "TwilioSubaccount", "refused", usageAlerts=[alert], usageCallback={"url": "https://h.example.com/u"}
    )
    with pytest.raises(AssertionError) as refused:
        kubectl.apply(body, namespace)
    assert said in str(refused.value) and f"usageAlerts[0].{field}" in str(refused.value)


def test_usage_callback_from_an_ingress_follows_it(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    kubectl.apply(ingress("hooks", {"hooks.example.com": ["/twilio"]}, tls=["hooks.example.com"]), namespace)
    alert = {"name": "volume", "category": "sms", "triggerBy": "count", "value": "10000"}
    sub = subaccount(
        kubectl,
        namespace,
        "ingressed",
        usageAlerts=[alert],
        usageCallback={"ingressRef": {"name": "hooks", "path": "/twilio/usage"}},
    )
    (made,) = triggers(twilio, sub)
    assert made["callback_url"] == "https://hooks.example.com/twilio/usage?alert=volume"
    kubectl.apply(ingress("hooks", {"new.example.com": ["/twilio"]}, tls=["new.example.com"]), namespace)

    def moved() -> bool:
        (now,) = triggers(twilio, sub)
        return bool(now["callback_url"] == "https://new.example.com/twilio/usage?alert=volume")

    wait_for(moved, 30, what="the trigger's callback following the Ingress")
    assert triggers(twilio, sub)[0]["sid"] == made["sid"]


def test_message_archives_are_configured_kept_and_turned_off(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess, collector: Collector
) -> None:
    hook = f"{collector.url}/twilio/archives"
    archives = {"messages": {"enabled": True, "webhook": {"url": hook}}}
    sub = subaccount(kubectl, namespace, "archived", archives=archives)

    def config() -> dict[str, Any] | None:
        return next((e for e in twilio.state()["exports"] if e["account"] == sub), None)

    assert config() == {
        "account": sub,
        "resource_type": "Messages",
        "enabled": True,
        "webhook_url": hook,
        "days": [],
    }
    status = kubectl.get(KIND, "archived", namespace)["status"]  # type: ignore[index]
    assert status["archives"] == {"messages": {"enabled": True, "webhookUrl": hook}}
    # A day's archive is ready: Twilio tells the webhook.
    send(twilio, sub, 2)
    twilio.call("POST", f"accounts/{sub}/exports/Messages/days", {})
    wait_for(lambda: any(p == "/twilio/archives" for p, _ in collector.received), 30)
    # Turned off in Twilio: turned back on.
    token = twilio.client().api.v2010.accounts(sub).fetch().auth_token
    twilio.client(sub, token).bulkexports.v1.export_configuration("Messages").update(enabled=False)
    wait_for(lambda: (config() or {}).get("enabled") is True, 30, what="archives enabled again")
    # No longer declared: turned off, and no longer in status.
    kubectl.apply(helpers.manifest("TwilioSubaccount", "archived"), namespace)
    helpers.ready(kubectl, KIND, "archived", namespace)
    assert (config() or {})["enabled"] is False and (config() or {})["webhook_url"] == ""
    assert "archives" not in kubectl.get(KIND, "archived", namespace)["status"]  # type: ignore[index]


def test_usage_reads_stay_one_call_per_subaccount_per_interval(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, operator: OperatorProcess
) -> None:
    sub = subaccount(kubectl, namespace, "counted")
    start = twilio.requests_since(0)[-1]["seq"] if twilio.requests_since(0) else 0
    # Three usage intervals of the suite's operator (3 s each), plus the time to see the last one.
    wait_for(
        lambda: (
            len([r for r in twilio.requests_since(start) if sub in r["path"] and "Usage" in r["path"]]) >= 3
        ),
        30,
    )
    reads = [r for r in twilio.requests_since(start) if sub in r["path"]]
    operations = json.dumps(sorted({r["operation"] for r in reads}))
    assert {r["operation"] for r in reads} <= {"ListUsageRecordThisMonth", "FetchAccount"}, operations
