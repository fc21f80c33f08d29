"""The operator's /metrics, scraped from the running process: counters move, and nothing secret shows."""

from __future__ import annotations

import re
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from tests.e2e import helpers
from tests.support.twilio_side import TwilioSide
from twilio_operator import __version__
from twilio_operator.sandbox.kubectl import Kubectl
from twilio_operator.sandbox.processes import OperatorProcess, SandboxProcess, wait_for

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
# Any Twilio SID: accounts, keys, services, numbers.
SID = re.compile(r"\b[A-Z]{2}[0-9a-f]{32}\b")


def scrape(port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text: str = response.read().decode()
            return text
    except (urllib.error.URLError, ConnectionError):
        return None  # still starting (or restarting after another test's kill)


def samples(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def test_metrics_count_passes_twilio_requests_and_drift_without_revealing_secrets(
    kubectl: Kubectl,
    namespace: str,
    twilio: TwilioSide,
    sandbox: SandboxProcess,
    operator: OperatorProcess,
    metrics_port: int,
) -> None:
    before = samples(wait_for(lambda: scrape(metrics_port), 30, what="the metrics endpoint"))
    kubectl.apply(helpers.manifest("TwilioSubaccount", "scraped-sub"), namespace)
    sub = helpers.ready(kubectl, "twiliosubaccount", "scraped-sub", namespace)["status"]["sid"]
    # Rate limited once: the retry must show, under the operation's name.
    twilio.fault(operation="CreateNewKey", kind="status", status=429, times=1)
    try:
        kubectl.apply(
            helpers.manifest("ApiKey", "scraped-key", subaccountRef={"name": "scraped-sub"}), namespace
        )
        helpers.ready(kubectl, "apikey", "scraped-key", namespace)
    finally:
        twilio.clear_faults()
    # A console edit, which the next drift pass reverts.
    twilio.client().api.v2010.accounts(sub).update(friendly_name="console-edit")
    wait_for(
        lambda: "DriftCorrected" in kubectl.run("get", "events", "-n", namespace, "-o", "json").stdout,
        30,
        what="a DriftCorrected event",
    )
    key_secret = (helpers.secret_data(kubectl, "scraped-key", namespace) or {})["TWILIO_API_SECRET"]
    # A deletion is a pass too (the key's policy is Delete: Twilio is told).
    kubectl.run("delete", "apikey", "scraped-key", "-n", namespace, "--wait=true")

    text = wait_for(lambda: scrape(metrics_port), 30, what="the metrics endpoint")
    after = samples(text)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    for kind in ("TwilioSubaccount", "ApiKey"):
        passes = {"kind": kind, "result": "success", "reason": "ReconcileSuccess"}
        assert moved("twilio_operator_reconcile_total", **passes) >= 1
        assert value(after, "twilio_operator_reconcile_duration_seconds_count", kind=kind) > 0
    assert value(after, "twilio_operator_objects", kind="TwilioSubaccount", ready="True") >= 1
    assert moved("twilio_operator_twilio_requests_total", operation="CreateAccount", status="2xx") >= 1
    assert moved("twilio_operator_twilio_requests_total", operation="CreateNewKey", status="429") >= 1
    assert moved("twilio_operator_twilio_requests_total", operation="CreateNewKey", status="2xx") >= 1
    assert moved("twilio_operator_twilio_retries_total", operation="CreateNewKey") >= 1
    assert moved("twilio_operator_drift_corrections_total", kind="TwilioSubaccount") >= 1
    assert moved("twilio_operator_reconcile_total", kind="ApiKey", result="success", reason="Deleted") == 1
    assert value(after, "twilio_operator_build_info", version=__version__) == 1

    secrets = {
        "parent auth token": sandbox.env["TWILIO_AUTH_TOKEN"],
        "subaccount auth token": str(twilio.client().api.v2010.accounts(sub).fetch().auth_token),
        "key secret": key_secret,
    }
    assert all(secrets.values())
    assert [what for what, secret in secrets.items() if secret in text] == []
    # No SID anywhere; objects are named only by the per-subaccount usage gauges (the Finance view), whose
    # series are bounded by the number of TwilioSubaccount objects.
    assert SID.findall(text) == []
    naming = [line for line in text.splitlines() if namespace in line or "scraped-" in line]
    assert naming and all(line.startswith("twilio_operator_subaccount_") for line in naming), naming
    assert 'name="scraped-key"' not in text
