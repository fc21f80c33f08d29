"""Prometheus metrics of the operator, served on their own port.

Labels are drawn from small fixed sets (kinds, Twilio operation names, status classes, condition reasons),
never a SID or anything from a credential, so a scrape can be shown to anyone. The one exception to fixed
sets is the per-subaccount usage (the Finance view): labelled by the TwilioSubaccount's namespace and name,
so its series are bounded by the number of those objects and go when the object goes.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    Info,
    disable_created_metrics,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from . import __version__

PREFIX = "twilio_operator"

# A `_created` timestamp beside every counter doubles the series for nothing a restart-aware rate() needs.
disable_created_metrics()  # type: ignore[no-untyped-call]  # unannotated in prometheus_client

# Results of a reconcile pass.
SUCCESS = "success"  # Ready and Synced for the current generation
ERROR = "error"  # a transient failure (Twilio, Kubernetes API, a bug): retried with backoff
WAITING = "waiting"  # waiting for something to settle (a subaccount, Twilio's eventual consistency)
REJECTED = "rejected"  # will not converge until the spec, Twilio or a person changes something
PAUSED = "paused"

# Readiness of an object as the watch last showed it; no Ready condition yet counts as Unknown.
READY_VALUES = ("True", "False", "Unknown")

BUILD = Info(f"{PREFIX}_build", "The running operator's version.")
BUILD.info({"version": __version__})

RECONCILE_PASSES = Counter(
    f"{PREFIX}_reconcile_total",
    "Reconcile passes by kind, result and the reason they reported (the Synced condition's, else Ready's).",
    ["kind", "result", "reason"],
)
RECONCILE_DURATION = Histogram(
    f"{PREFIX}_reconcile_duration_seconds",
    "Duration of reconcile passes, including Twilio calls, their retries and waits for a subaccount.",
    ["kind"],
    # A pass without changes takes milliseconds; one that waits or retries can take a minute.
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
TWILIO_REQUESTS = Counter(
    f"{PREFIX}_twilio_requests_total",
    "Twilio API requests (each retry counted again) by operation and status class:"
    " 2xx, 4xx, 429, 5xx, timeout, or error when no answer came back.",
    ["operation", "status"],
)
TWILIO_RETRIES = Counter(
    f"{PREFIX}_twilio_retries_total",
    "Twilio API requests retried after a rate limit or a transient failure, by operation.",
    ["operation"],
)
DRIFT_CORRECTIONS = Counter(
    f"{PREFIX}_drift_corrections_total",
    "Changes made outside the operator that it reverted (each also posts a DriftCorrected Event), by kind.",
    ["kind"],
)
CREDENTIALS_REJECTED = Gauge(
    f"{PREFIX}_credentials_rejected",
    "1 while Twilio refuses the operator's own (parent) credentials, 0 once it accepts them again.",
)
OBJECTS = Gauge(
    f"{PREFIX}_objects",
    "Objects the operator watches, by kind and the status of their Ready condition.",
    ["kind", "ready"],
)


@dataclass
class PassResult:
    """What a reconcile pass ended with; set by the pass before it returns or raises."""

    result: str | None = None
    reason: str = ""

    def set(self, result: str, reason: str) -> None:
        self.result, self.reason = result, reason


@contextlib.contextmanager
def reconcile_pass(kind: str) -> Iterator[PassResult]:
    """Time one pass and count it with the result it set; one that raised without setting one is an error."""
    ended = PassResult()
    started = time.monotonic()
    try:
        yield ended
    except BaseException as error:
        if ended.result is None:
            ended.set(ERROR, type(error).__name__)
        raise
    finally:
        RECONCILE_DURATION.labels(kind).observe(time.monotonic() - started)
        RECONCILE_PASSES.labels(kind, ended.result or ERROR, ended.reason or "Unknown").inc()


def status_class(status: int | None, timed_out: bool = False) -> str:
    """The status label of a Twilio request: an HTTP status class, 429 on its own, or why there was none."""
    if timed_out:
        return "timeout"
    if status is None:
        return "error"
    if status == 429:
        return "429"
    return f"{status // 100}xx"


def twilio_request(operation: str, status: str) -> None:
    TWILIO_REQUESTS.labels(operation, status).inc()


def twilio_retry(operation: str) -> None:
    TWILIO_RETRIES.labels(operation).inc()


def drift_corrected(kind: str) -> None:
    DRIFT_CORRECTIONS.labels(kind).inc()


class ObjectCounts:
    """Objects by kind and Ready status, kept from the watch events the operator receives anyway.

    Counted by uid in memory, so a re-listed or modified object moves between series instead of adding to one.
    """

    def __init__(self, gauge: Gauge = OBJECTS) -> None:
        self.gauge = gauge
        self._seen: dict[str, tuple[str, str]] = {}

    def observe(self, kind: str, uid: str, ready: str | None, gone: bool = False) -> None:
        state = None if gone else (kind, ready if ready in READY_VALUES else "Unknown")
        previous = self._seen.get(uid)
        if previous == state:
            return
        if previous is not None:
            self.gauge.labels(*previous).dec()
        if state is None:
            del self._seen[uid]
        else:
            self._seen[uid] = state
            self.gauge.labels(*state).inc()


OBJECT_COUNTS = ObjectCounts()


@dataclass(frozen=True)
class SubaccountFigures:
    """One subaccount's usage this month, as its status shows it."""

    counts: dict[str, int]  # by usage category
    spend: float
    currency: str
    fired: dict[str, float]  # usage alert name -> when it last fired (Unix time)


class SubaccountUsage(Collector):
    """Per-subaccount usage gauges, from each TwilioSubaccount's status as the watch delivers it (so every
    replica, leader or not, exports the same figures, and a restart loses none)."""

    def __init__(self) -> None:
        self._figures: dict[tuple[str, str], SubaccountFigures] = {}

    def observe(self, namespace: str, name: str, figures: SubaccountFigures | None) -> None:
        if figures is None:
            self._figures.pop((namespace, name), None)
        else:
            self._figures[(namespace, name)] = figures

    def collect(self) -> Iterator[GaugeMetricFamily]:
        counts = GaugeMetricFamily(
            f"{PREFIX}_subaccount_usage_count",
            "This month's usage count of each TwilioSubaccount's subaccount, by usage category.",
            labels=["namespace", "name", "category"],
        )
        spend = GaugeMetricFamily(
            f"{PREFIX}_subaccount_spend",
            "What this month has cost each TwilioSubaccount's subaccount (Twilio's totalprice).",
            labels=["namespace", "name", "currency"],
        )
        fired = GaugeMetricFamily(
            f"{PREFIX}_subaccount_usage_alert_fired_timestamp_seconds",
            "When each usage alert of a TwilioSubaccount last fired.",
            labels=["namespace", "name", "alert"],
        )
        for (namespace, name), figures in sorted(self._figures.items()):
            for category, count in sorted(figures.counts.items()):
                counts.add_metric([namespace, name, category], count)
            spend.add_metric([namespace, name, figures.currency], figures.spend)
            for alert, moment in sorted(figures.fired.items()):
                fired.add_metric([namespace, name, alert], moment)
        yield counts
        yield spend
        yield fired


SUBACCOUNT_USAGE = SubaccountUsage()
REGISTRY.register(SUBACCOUNT_USAGE)


def serve(port: int, address: str) -> tuple[WSGIServer, threading.Thread]:
    """Serve /metrics from a thread of its own, so a scrape is answered even while the event loop is busy."""
    return start_http_server(port, addr=address)
