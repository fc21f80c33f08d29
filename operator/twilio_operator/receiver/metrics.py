"""The receiver's Prometheus metrics, in a registry of its own.

Label values are object names (TwilioSubaccount, MessagingService, the operator's usage alerts), statuses,
error codes, usage categories and fixed reason words: never a phone number, a body, a SID or a token. Error
codes, alert names and categories past a few hundred distinct ones fold into ``other``, so a flood of odd
values cannot grow the series without bound; an alert name that cannot be an object's name is ``unknown``.
"""

from __future__ import annotations

import re

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, generate_latest

from .. import __version__
from .directory import UNKNOWN, Directory
from .parse import WORD
from .store.model import ArchiveDay, CommitResult, UsageAlert, latency

PREFIX = "twilio_receiver"
MAX_ERROR_CODES = 200
MAX_ALERTS = 200
MAX_CATEGORIES = 200
OTHER = "other"
# The operator names a usage trigger's callback after its alert: a DNS label of at most 40 characters.
ALERT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$")

# Why a request was refused (the `reason` label of callbacks_rejected_total).
UNSIGNED = "unsigned"
BAD_SIGNATURE = "bad_signature"
UNKNOWN_ACCOUNT = "unknown_account"
MALFORMED = "malformed"
TOO_LARGE = "too_large"
UNAVAILABLE = "unavailable"  # the database did not commit: 503, Twilio retries once
REJECT_REASONS = (UNSIGNED, BAD_SIGNATURE, UNKNOWN_ACCOUNT, MALFORMED, TOO_LARGE, UNAVAILABLE)
ENDPOINTS = ("status", "events", "usage", "archives")


class BoundedLabel:
    """Label values as they come, the first ``limit`` distinct ones; later ones are ``other``, and one that
    does not match ``pattern`` is ``unknown``."""

    def __init__(self, limit: int, pattern: re.Pattern[str] | None = None) -> None:
        self.limit = limit
        self.pattern = pattern
        self._seen: set[str] = set()

    def __call__(self, value: str) -> str:
        if self.pattern is not None and not self.pattern.match(value):
            return UNKNOWN
        if value in self._seen or len(self._seen) < self.limit:
            self._seen.add(value)
            return value
        return OTHER


class ReceiverMetrics:
    def __init__(self, directory: Directory) -> None:
        self.directory = directory
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        Info(f"{PREFIX}_build", "The running receiver's version.", registry=r).info({"version": __version__})
        self.callbacks = Counter(
            f"{PREFIX}_callbacks_total",
            "Signed deliveries accepted, by endpoint and result (stored, or duplicate of a stored one).",
            ["endpoint", "result"],
            registry=r,
        )
        self.rejected = Counter(
            f"{PREFIX}_callbacks_rejected_total",
            "Requests refused, by endpoint and reason (unsigned, bad_signature, unknown_account, malformed,"
            " too_large, unavailable).",
            ["endpoint", "reason"],
            registry=r,
        )
        self.messages = Counter(
            f"{PREFIX}_messages_total",
            "Messages reaching a status (each message counted once per status it progresses to).",
            ["subaccount", "service", "status"],
            registry=r,
        )
        self.errors = Counter(
            f"{PREFIX}_message_errors_total",
            "Messages failed or undelivered, by Twilio error code.",
            ["subaccount", "service", "error_code"],
            registry=r,
        )
        self.latency = Histogram(
            f"{PREFIX}_delivery_latency_seconds",
            "Seconds from a message's sent callback to its delivered one.",
            ["subaccount", "service"],
            buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600),
            registry=r,
        )
        self.repairs = Counter(
            f"{PREFIX}_repairs_total",
            "Messages fetched from Twilio because they stayed non-terminal, by result (updated, unchanged,"
            " not_found, error, no_credentials).",
            ["subaccount", "result"],
            registry=r,
        )
        self.repair_pending = Gauge(
            f"{PREFIX}_repair_pending",
            "Messages non-terminal for longer than the repair age, at the last repair pass.",
            registry=r,
        )
        self.commit_seconds = Histogram(
            f"{PREFIX}_db_commit_seconds",
            "Duration of one group commit.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=r,
        )
        self.commit_size = Histogram(
            f"{PREFIX}_db_commit_events",
            "Events per group commit.",
            buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
            registry=r,
        )
        self.usage_alerts = Counter(
            f"{PREFIX}_usage_alerts_total",
            "Usage triggers fired (each firing once), by subaccount, alert name and usage category.",
            ["subaccount", "alert", "category"],
            registry=r,
        )
        self.archive_days = Counter(
            f"{PREFIX}_archive_days_total",
            "Days whose message archive Twilio reported ready (each day once).",
            ["subaccount"],
            registry=r,
        )
        self.db_up = Gauge(f"{PREFIX}_db_up", "1 when the last database operation succeeded.", registry=r)
        self.accounts = Gauge(
            f"{PREFIX}_credentials_accounts", "Accounts whose auth token the receiver holds.", registry=r
        )
        self._codes = BoundedLabel(MAX_ERROR_CODES)
        self._alerts = BoundedLabel(MAX_ALERTS, ALERT_NAME)
        self._categories = BoundedLabel(MAX_CATEGORIES, WORD)
        # Labelled children looked up once: .labels() takes a lock and builds a key on every call, and these
        # two are touched on every request.
        self.stored = {endpoint: self.callbacks.labels(endpoint, "stored") for endpoint in ENDPOINTS}
        self.duplicates = {endpoint: self.callbacks.labels(endpoint, "duplicate") for endpoint in ENDPOINTS}
        for endpoint in ENDPOINTS:
            for reason in REJECT_REASONS:
                self.rejected.labels(endpoint, reason)

    def error_label(self, code: int) -> str:
        return self._codes(str(code))

    def usage_alert(self, alert: UsageAlert) -> None:
        """A firing stored for the first time."""
        subaccount = self.directory.subaccount(alert.account_sid)
        self.usage_alerts.labels(
            subaccount, self._alerts(alert.alert), self._categories(alert.usage_category)
        ).inc()

    def archive_day(self, day: ArchiveDay) -> None:
        """A day reported ready for the first time."""
        self.archive_days.labels(self.directory.subaccount(day.account_sid)).inc()

    def committed(self, result: CommitResult, seconds: float, size: int) -> None:
        self.db_up.set(1)
        self.commit_seconds.observe(seconds)
        self.commit_size.observe(size)
        for advance in result.advances:
            message = advance.message
            subaccount = self.directory.subaccount(message.account_sid)
            service = self.directory.service(message.service_sid)
            self.messages.labels(subaccount, service, message.status).inc()
            if message.error_code is not None and message.status in ("failed", "undelivered"):
                self.errors.labels(subaccount, service, self.error_label(message.error_code)).inc()
            seconds_to_deliver = latency(message)
            if seconds_to_deliver is not None:
                self.latency.labels(subaccount, service).observe(seconds_to_deliver)

    def render(self) -> bytes:
        self.accounts.set(len(self.directory.accounts()))
        return generate_latest(self.registry)
