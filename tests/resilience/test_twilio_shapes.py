"""Twilio answering with unexpected shapes degrades to a clear condition, never a crash or a write loop.

The Twilio emulator only injects statuses, hangs and latency; the shapes (missing fields, unknown enum values,
HTML error pages, truncated JSON, RFC 9457 error bodies) come from `shape_proxy`, which sits between this
module's own operator process and its own sandbox.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from chaos.control import TwilioSide, secret_values

from tests.resilience.conftest import ADOPTING_NAMESPACE, OPERATOR_ENV, Captured, make_namespace
from tests.resilience.helpers import conditions, manifest, ready, tracebacks, wait_for
from tests.support.shape_proxy import ShapeProxy, drop, html, rfc9457, set_field, truncated
from twilio_operator.sandbox.kubectl import Kubectl
from twilio_operator.sandbox.processes import OperatorProcess, SandboxProcess

SUB = "twiliosubaccount"
ACCOUNT_SID = re.compile(r"^AC[0-9a-f]{32}$")
# How long a shape stays in place: a few drift intervals of this module's operator.
WINDOW = 8.0


@pytest.fixture(scope="module")
def shaped(
    tmp_path_factory: pytest.TempPathFactory, captured: Captured
) -> Iterator[tuple[SandboxProcess, ShapeProxy, OperatorProcess]]:
    sandbox = SandboxProcess(tmp_path_factory.mktemp("shapes-sandbox"))
    sandbox.start()
    proxy = ShapeProxy(sandbox.twilio_url)
    proxy.start()
    log_dir = tmp_path_factory.mktemp("shapes-operator")
    captured.log_dirs.append(log_dir)
    operator = OperatorProcess(sandbox, log_dir, {**OPERATOR_ENV, "TWILIO_API_BASE_URL": proxy.url})
    operator.start()
    yield sandbox, proxy, operator
    # This sandbox goes away with the module: remember its secrets for the suite's final scan.
    twilio = TwilioSide(
        sandbox.twilio_url, sandbox.env["TWILIO_ACCOUNT_SID"], sandbox.env["TWILIO_AUTH_TOKEN"]
    )
    kubectl = Kubectl(sandbox.kubeconfig, tmp_path_factory.mktemp("shapes-kubectl-scan"))
    captured.secrets |= set(twilio.auth_tokens().values())
    captured.secrets |= secret_values(
        json.loads(kubectl.run("get", "secrets", "-A", "-o", "json").stdout)["items"]
    )
    operator.stop()
    proxy.stop()
    sandbox.stop()


@pytest.fixture
def proxy(shaped: tuple[SandboxProcess, ShapeProxy, OperatorProcess]) -> ShapeProxy:
    return shaped[1]


@pytest.fixture
def shaped_operator(shaped: tuple[SandboxProcess, ShapeProxy, OperatorProcess]) -> OperatorProcess:
    return shaped[2]


@pytest.fixture
def kubectl(
    shaped: tuple[SandboxProcess, ShapeProxy, OperatorProcess], tmp_path_factory: pytest.TempPathFactory
) -> Kubectl:
    return Kubectl(shaped[0].kubeconfig, tmp_path_factory.mktemp("shapes-kubectl"))


@pytest.fixture
def twilio(shaped: tuple[SandboxProcess, ShapeProxy, OperatorProcess]) -> TwilioSide:
    sandbox = shaped[0]
    return TwilioSide(sandbox.twilio_url, sandbox.env["TWILIO_ACCOUNT_SID"], sandbox.env["TWILIO_AUTH_TOKEN"])


@pytest.fixture
def namespace(kubectl: Kubectl, request: pytest.FixtureRequest, captured: Captured) -> str:
    return make_namespace(kubectl, request.node.name, captured)


@pytest.fixture(autouse=True)
def no_crash(shaped_operator: OperatorProcess, twilio: TwilioSide) -> Iterator[None]:
    """Whatever Twilio answered, the process lives on, raised nothing it did not classify, and sent nothing
    the OpenAPI spec rejects."""
    before = len(shaped_operator.all_logs())
    violations = len(twilio.violations())
    yield
    assert shaped_operator.alive(), "the operator process died"
    assert tracebacks(shaped_operator.all_logs()[before:]) == []
    after = twilio.violations()
    new = [
        (v["method"], v["path"], v["problems"])
        for v in (after[violations:] if len(after) >= violations else after)
    ]
    assert new == [], f"requests Twilio's OpenAPI spec rejects: {new[:3]} ({len(new)} in all)"


def synced(kubectl: Kubectl, name: str, namespace: str) -> dict[str, Any]:
    return conditions(kubectl.get(SUB, name, namespace)).get("Synced", {})


def resync(kubectl: Kubectl, name: str, namespace: str) -> None:
    kubectl.run(
        "annotate",
        "--overwrite",
        SUB,
        name,
        "-n",
        namespace,
        f"twilio.operator.dev/reconcile-requested-at={time.time()}",
    )


def test_a_create_answer_without_a_sid_never_records_a_bogus_sid(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, proxy: ShapeProxy
) -> None:
    recorded: set[str] = set()

    def watch() -> dict[str, Any] | None:
        obj = kubectl.get(SUB, "nosid", namespace)
        sid = ((obj or {}).get("metadata", {}).get("annotations") or {}).get(
            "twilio.operator.dev/external-name"
        )
        if sid:
            recorded.add(sid)
        settled = conditions(obj).get("Ready", {}).get("status") == "True"
        return obj if settled else None

    violations = len(twilio.violations())
    try:
        with proxy.rule("POST", r"^/2010-04-01/Accounts\.json$", drop("sid"), times=1) as rule:
            kubectl.apply(manifest("TwilioSubaccount", "nosid"), namespace)
            wait_for(watch, 60, interval=0.2, what="the subaccount Ready")
        assert rule.fired == 1
        time.sleep(4)  # past the create grace period: a bogus SID would have been given up on by now
        watch()
        obj = kubectl.get(SUB, "nosid", namespace) or {}
        found = [a["sid"] for a in twilio.subaccounts(f"{namespace}/nosid")]
        rejected = {(v["method"], v["path"]) for v in twilio.violations()[violations:]}
    finally:
        # Whatever it recorded, stop its passes (no finalizer: Orphan) so later tests see only their own.
        kubectl.run("delete", SUB, "nosid", "-n", namespace, "--wait=true")
        time.sleep(1)
        twilio.call("DELETE", "violations")
    bogus = sorted(sid for sid in recorded if not ACCOUNT_SID.match(sid))
    assert not bogus and found == [obj.get("status", {}).get("sid")] and not rejected, (
        f"recorded SIDs Twilio never gave: {bogus}; subaccounts in Twilio: {found}; "
        f"status.sid: {obj.get('status', {}).get('sid')}; conditions: {conditions(obj)}; "
        f"requests the OpenAPI spec rejects since: {sorted(rejected)}"
    )


@pytest.mark.parametrize(
    ("shape", "what"),
    [
        (drop("status", "friendly_name"), "fields missing"),
        (set_field("status", "frozen"), "an unknown status"),
    ],
    ids=["missing-fields", "unknown-enum-value"],
)
def test_an_observed_object_twilio_describes_oddly_is_reported_not_overwritten(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, proxy: ShapeProxy, shape: Any, what: str
) -> None:
    kubectl.apply(manifest("TwilioSubaccount", "odd"), namespace)
    sid = ready(kubectl, SUB, "odd", namespace, timeout=60)["status"]["sid"]
    seq = twilio.last_seq()
    seen: list[dict[str, Any]] = []
    with proxy.rule("GET", rf"^/2010-04-01/Accounts/{sid}\.json$", shape):
        resync(kubectl, "odd", namespace)
        deadline = time.monotonic() + WINDOW
        while time.monotonic() < deadline:
            seen.append(synced(kubectl, "odd", namespace))
            time.sleep(0.5)
        writes = [
            f"{w['method']} {w['path']} {w['operation']}"
            for w in twilio.requests_since(seq)
            if w["write"] and sid in w["path"]
        ]
    reported = [c for c in seen if c.get("status") == "False"]
    # Twilio's answer was not understood: say so, and don't "correct" Twilio on the strength of it.
    assert reported and not writes, (
        f"{what}: {len(writes)} writes in {WINDOW}s ({writes[:3]}...); Synced while it lasted: "
        f"{sorted({(c.get('status'), c.get('reason'), c.get('message')) for c in seen})}"
    )
    resync(kubectl, "odd", namespace)
    ready(kubectl, SUB, "odd", namespace, timeout=30)


@pytest.mark.parametrize("status", [502, 200], ids=["502-error-page", "200-captive-portal"])
def test_an_html_page_instead_of_json_is_a_short_clear_condition_without_a_hot_loop(
    kubectl: Kubectl, namespace: str, proxy: ShapeProxy, status: int
) -> None:
    kubectl.apply(manifest("TwilioSubaccount", "html"), namespace)
    sid = ready(kubectl, SUB, "html", namespace, timeout=60)["status"]["sid"]
    path = rf"^/2010-04-01/Accounts/{sid}\.json$"
    with proxy.rule("GET", path, html(status)):
        before = proxy.requests_matching("GET", path)
        resync(kubectl, "html", namespace)
        cond = wait_for(
            lambda: (c := synced(kubectl, "html", namespace)).get("status") == "False" and c,
            WINDOW * 2,
            what="Synced=False",
        )
        time.sleep(WINDOW)
        calls = proxy.requests_matching("GET", path) - before
    assert cond["reason"] == "ReconcileError"
    assert "<html" not in cond["message"].lower() and len(cond["message"]) < 300, cond["message"]
    # Retried with backoff (this module's operator starts at 0.2s and caps at 3s between passes, and each
    # pass retries a failed read 5 times): a few calls a second at most, not one per event-loop turn.
    assert calls <= 5 * WINDOW, f"{calls} fetches in {WINDOW}s"
    resync(kubectl, "html", namespace)
    ready(kubectl, SUB, "html", namespace, timeout=30)


def test_a_truncated_create_answer_still_ends_with_exactly_one_object(
    kubectl: Kubectl, namespace: str, twilio: TwilioSide, proxy: ShapeProxy
) -> None:
    with proxy.rule("POST", r"^/v1/Services$", truncated, times=1) as rule:
        kubectl.apply(manifest("TwilioSubaccount", "sub"), namespace)
        ready(kubectl, SUB, "sub", namespace, timeout=60)
        kubectl.apply(manifest("MessagingService", "cut", subaccountRef={"name": "sub"}), namespace)
        obj = ready(kubectl, "messagingservice", "cut", namespace, timeout=60)
    assert rule.fired == 1
    found = [s["sid"] for s in twilio.state()["services"] if s["friendly_name"] == f"{namespace}/cut"]
    assert found == [obj["status"]["sid"]]


def test_a_not_found_in_problem_details_form_is_still_not_found(kubectl: Kubectl, proxy: ShapeProxy) -> None:
    # Adopting an existing subaccount is a privilege: this namespace is the one that has it.
    namespace = ADOPTING_NAMESPACE
    kubectl.apply(f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {namespace}\n")
    missing = "AC" + "0" * 32
    body = json.loads(manifest("TwilioSubaccount", "ghost"))
    body["metadata"]["annotations"] = {"twilio.operator.dev/external-name": missing}
    with proxy.rule("GET", rf"^/2010-04-01/Accounts/{missing}\.json$", rfc9457):
        kubectl.apply(json.dumps(body), namespace)
        cond = wait_for(
            lambda: (c := synced(kubectl, "ghost", namespace)).get("status") == "False" and c,
            30,
            what="a Synced condition",
        )
        time.sleep(2)
        cond = synced(kubectl, "ghost", namespace)
    assert cond["reason"] == "ExternalNotFound", cond
