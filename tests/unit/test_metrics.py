"""The metrics module: what each hook counts, the endpoint, and the settings and flags that turn it on."""

from __future__ import annotations

import socket
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator, Iterator

import pytest
from prometheus_client import REGISTRY, CollectorRegistry, Gauge
from prometheus_client.parser import text_string_to_metric_families

from twilio_operator import __version__, metrics
from twilio_operator.cli import parser
from twilio_operator.reconcile import conditions as c
from twilio_operator.reconcile.managed import _result
from twilio_operator.runner import serve_metrics
from twilio_operator.sandbox.twilio import TwilioEmulator
from twilio_operator.settings import ConfigurationError, Settings
from twilio_operator.twilio.errors import NotFound, Transient
from twilio_operator.twilio.gateway import TwilioGateway

TYPES = {
    "twilio_operator_build_info": "gauge",
    "twilio_operator_reconcile_total": "counter",
    "twilio_operator_reconcile_duration_seconds": "histogram",
    "twilio_operator_twilio_requests_total": "counter",
    "twilio_operator_twilio_retries_total": "counter",
    "twilio_operator_drift_corrections_total": "counter",
    "twilio_operator_objects": "gauge",
    "twilio_operator_credentials_rejected": "gauge",
    "twilio_operator_subaccount_usage_count": "gauge",
    "twilio_operator_subaccount_spend": "gauge",
    "twilio_operator_subaccount_usage_alert_fired_timestamp_seconds": "gauge",
}


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# --- reconcile passes ---------------------------------------------------------------------------------


def test_a_pass_is_counted_with_its_result_and_timed() -> None:
    before = sample(
        "twilio_operator_reconcile_total", kind="Test", result="success", reason="ReconcileSuccess"
    )
    timed = sample("twilio_operator_reconcile_duration_seconds_count", kind="Test")
    with metrics.reconcile_pass("Test") as result:
        result.set(metrics.SUCCESS, "ReconcileSuccess")
    after = sample(
        "twilio_operator_reconcile_total", kind="Test", result="success", reason="ReconcileSuccess"
    )
    assert after == before + 1
    assert sample("twilio_operator_reconcile_duration_seconds_count", kind="Test") == timed + 1


def test_a_pass_that_raised_before_saying_how_it_ended_is_an_error_named_by_its_exception() -> None:
    labels = {"kind": "Test", "result": "error", "reason": "KeyError"}
    before = sample("twilio_operator_reconcile_total", **labels)
    with pytest.raises(KeyError), metrics.reconcile_pass("Test"):
        raise KeyError("a bug")
    assert sample("twilio_operator_reconcile_total", **labels) == before + 1


def test_a_pass_that_set_its_result_keeps_it_when_it_raises_to_requeue() -> None:
    labels = {"kind": "Test", "result": "waiting", "reason": "WaitingForSubaccount"}
    before = sample("twilio_operator_reconcile_total", **labels)
    with pytest.raises(RuntimeError), metrics.reconcile_pass("Test") as result:
        result.set(metrics.WAITING, "WaitingForSubaccount")
        raise RuntimeError("kopf.TemporaryError stands in here")
    assert sample("twilio_operator_reconcile_total", **labels) == before + 1


@pytest.mark.parametrize(
    ("updates", "requeue", "transient", "expected"),
    [
        (
            {c.READY: c.Cond.true(c.AVAILABLE), c.SYNCED: c.Cond.true(c.RECONCILE_SUCCESS)},
            None,
            False,
            ("success", "ReconcileSuccess"),
        ),
        ({c.SYNCED: c.Cond.false(c.RECONCILE_ERROR)}, 2.0, True, ("error", "ReconcileError")),
        ({c.SYNCED: c.Cond.false(c.UNEXPECTED_RESPONSE)}, 2.0, True, ("error", "UnexpectedResponse")),
        # A wait is told by Ready: Synced only says ReconcileError.
        (
            {c.READY: c.Cond.false(c.WAITING_FOR_SUBACCOUNT), c.SYNCED: c.Cond.false(c.RECONCILE_ERROR)},
            5.0,
            False,
            ("waiting", "WaitingForSubaccount"),
        ),
        ({c.READY: c.Cond.false(c.CREATING)}, 2.0, False, ("waiting", "Creating")),
        (
            {c.READY: c.Cond.false(c.UNAVAILABLE), c.SYNCED: c.Cond.false(c.INVALID_SPEC)},
            None,
            False,
            ("rejected", "InvalidSpec"),
        ),
        # Partly done: the service is Ready but a sender was refused.
        (
            {c.READY: c.Cond.true(c.AVAILABLE), c.SYNCED: c.Cond.false("SenderInUse")},
            None,
            False,
            ("rejected", "SenderInUse"),
        ),
    ],
)
def test_result_of_a_pass(
    updates: dict[str, c.Cond], requeue: float | None, transient: bool, expected: tuple[str, str]
) -> None:
    assert _result(updates, requeue, transient) == expected


# --- Twilio requests, through the gateway --------------------------------------------------------------


@pytest.fixture
async def gateway(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[TwilioGateway, TwilioEmulator]]:
    emulator = TwilioEmulator(seed=5)
    await emulator.start()
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", emulator.parent_sid)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", emulator.parent_token)
    monkeypatch.setenv("TWILIO_API_BASE_URL", emulator.url)
    monkeypatch.setenv("TWILIO_OPERATOR_BACKOFF_BASE", "0.01")
    monkeypatch.setenv("TWILIO_OPERATOR_MAX_RETRIES", "1")
    monkeypatch.setenv("TWILIO_OPERATOR_REQUEST_TIMEOUT", "0.5")
    gw = TwilioGateway(Settings())
    try:
        yield gw, emulator
    finally:
        await gw.close()
        await emulator.stop()


def requests(operation: str, status: str) -> float:
    return sample("twilio_operator_twilio_requests_total", operation=operation, status=status)


async def test_twilio_requests_are_counted_by_operation_and_status_class(
    gateway: tuple[TwilioGateway, TwilioEmulator],
) -> None:
    gw, emulator = gateway
    parent = gw.parent().api.v2010.accounts
    op = "FetchAccount"
    before = {s: requests(op, s) for s in ("2xx", "4xx", "429", "5xx", "timeout")}
    retried = sample("twilio_operator_twilio_retries_total", operation=op)

    await gw.call(gw.parent_sid, op, lambda: parent(gw.parent_sid).fetch_async())
    with pytest.raises(NotFound):
        await gw.call(gw.parent_sid, op, lambda: parent("AC" + "0" * 32).fetch_async())
    # Rate limited, then answered: one retry, one request of each class.
    emulator.core.faults.add({"kind": "status", "status": 429, "operation": op, "times": 1})
    await gw.call(gw.parent_sid, op, lambda: parent(gw.parent_sid).fetch_async())
    emulator.core.faults.add({"kind": "status", "status": 503, "operation": op, "times": 2})
    with pytest.raises(Transient):
        await gw.call(gw.parent_sid, op, lambda: parent(gw.parent_sid).fetch_async())
    emulator.core.faults.add({"kind": "hang", "operation": op, "times": 1})
    await gw.call(gw.parent_sid, op, lambda: parent(gw.parent_sid).fetch_async())

    moved = {s: requests(op, s) - before[s] for s in before}
    assert moved == {"2xx": 3, "4xx": 1, "429": 1, "5xx": 2, "timeout": 1}
    # After the 429, the first 503 (the second one exhausted max_retries) and the timeout.
    assert sample("twilio_operator_twilio_retries_total", operation=op) - retried == 3


@pytest.mark.parametrize(
    ("status", "timed_out", "expected"),
    [
        (200, False, "2xx"),
        (404, False, "4xx"),
        (429, False, "429"),
        (503, False, "5xx"),
        (None, True, "timeout"),
        (None, False, "error"),
    ],
)
def test_status_class(status: int | None, timed_out: bool, expected: str) -> None:
    assert metrics.status_class(status, timed_out) == expected


# --- objects and drift ---------------------------------------------------------------------------------


def test_objects_move_between_ready_series_and_leave_when_deleted() -> None:
    gauge = Gauge("objects", "test", ["kind", "ready"], registry=CollectorRegistry())
    counts = metrics.ObjectCounts(gauge)

    def series() -> dict[tuple[str, str], float]:
        return {
            (s.labels["kind"], s.labels["ready"]): s.value
            for family in gauge.collect()
            for s in family.samples
            if s.value
        }

    counts.observe("ApiKey", "uid-1", None)
    counts.observe("ApiKey", "uid-1", None)  # a re-list is not a second object
    counts.observe("ApiKey", "uid-2", "False")
    assert series() == {("ApiKey", "Unknown"): 1, ("ApiKey", "False"): 1}
    counts.observe("ApiKey", "uid-1", "True")
    counts.observe("ApiKey", "uid-2", "True")
    counts.observe("ApiKey", "uid-3", "nonsense")
    assert series() == {("ApiKey", "True"): 2, ("ApiKey", "Unknown"): 1}
    counts.observe("ApiKey", "uid-1", "True", gone=True)
    counts.observe("ApiKey", "uid-9", None, gone=True)  # never seen: nothing to take away
    assert series() == {("ApiKey", "True"): 1, ("ApiKey", "Unknown"): 1}


def test_drift_corrections_are_counted_by_kind() -> None:
    before = sample("twilio_operator_drift_corrections_total", kind="MessagingService")
    metrics.drift_corrected("MessagingService")
    assert sample("twilio_operator_drift_corrections_total", kind="MessagingService") == before + 1


# --- the endpoint ---------------------------------------------------------------------------------------


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    port = free_port()
    monkeypatch.setenv("TWILIO_OPERATOR_METRICS_PORT", str(port))
    monkeypatch.setenv("TWILIO_OPERATOR_METRICS_ADDRESS", "127.0.0.1")
    server = serve_metrics(Settings())
    assert server is not None
    try:
        yield port
    finally:
        server.shutdown()
        server.server_close()


def test_the_endpoint_serves_every_metric_in_the_text_format(endpoint: int) -> None:
    with urllib.request.urlopen(f"http://127.0.0.1:{endpoint}/metrics", timeout=5) as response:
        text = response.read().decode()
    declared = dict(
        line.split()[2:4] for line in text.splitlines() if line.startswith("# TYPE twilio_operator_")
    )
    assert declared == TYPES
    build = [
        (s.labels, s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "twilio_operator_build_info"
    ]
    assert build == [({"version": __version__}, 1.0)]
    assert "_created" not in text, "created series double the series count for nothing"


def test_a_port_in_use_stops_the_start_with_a_message_naming_it(endpoint: int) -> None:
    with pytest.raises(ConfigurationError, match=f"cannot serve metrics on 127.0.0.1:{endpoint}"):
        serve_metrics(Settings(metrics_port=endpoint, metrics_address="127.0.0.1"))


def test_metrics_are_off_unless_a_port_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TWILIO_OPERATOR_METRICS_PORT", raising=False)
    assert Settings().metrics_port is None
    assert serve_metrics(Settings()) is None


def test_run_flags_set_the_metrics_port_and_address() -> None:
    args = parser().parse_args(["run", "--metrics-port", "9100", "--metrics-address", "127.0.0.1"])
    assert (args.metrics_port, args.metrics_address) == (9100, "127.0.0.1")
    assert parser().parse_args(["run"]).metrics_port is None


@pytest.mark.parametrize("port", ["0", "70000", "http"])
def test_run_refuses_a_metrics_port_out_of_range(port: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "twilio_operator.cli", "run", "--metrics-port", port],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--metrics-port: not a TCP port (1-65535)" in result.stderr


def test_settings_refuse_a_metrics_port_out_of_range(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWILIO_OPERATOR_METRICS_PORT", "70000")
    with pytest.raises(ValueError, match="metrics_port"):
        Settings()
