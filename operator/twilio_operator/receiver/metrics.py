"""The receiver's Prometheus metrics, in a registry of its own.

Label values are object names (TwilioSubaccount, MessagingService), statuses, error codes and fixed reason
words: never a phone number, a body, a SID or a token. Error codes past ``MAX_ERROR_CODES`` distinct ones
fold into ``other``, so a flood of odd codes cannot grow the series without bound.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, generate_latest

from .. import __version__
from .directory import Directory
from .store.model import CommitResult, latency

PREFIX = "twilio_receiver"
MAX_ERROR_CODES = 200
OTHER = "other"

# Why a request was refused (the `reason` label of callbacks_rejected_total).
UNSIGNED = "unsigned"
BAD_SIGNATURE = "bad_signature"
UNKNOWN_ACCOUNT = "unknown_account"
MALFORMED = "malformed"
TOO_LARGE = "too_large"
UNAVAILABLE = "unavailable"  # the database did not commit: 503, Twilio retries once
REJECT_REASONS = (UNSIGNED, BAD_SIGNATURE, UNKNOWN_ACCOUNT, MALFORMED, TOO_LARGE, UNAVAILABLE)
ENDPOINTS = ("status", "events")


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
        self.db_up = Gauge(f"{PREFIX}_db_up", "1 when the last database operation succeeded.", registry=r)
        self.accounts = Gauge(
            f"{PREFIX}_credentials_accounts", "Accounts whose auth token the receiver holds.", registry=r
        )
        self._codes: set[str] = set()
        # Labelled children looked up once: .labels() takes a lock and builds a key on every call, and these
        # two are touched on every request.
        self.stored = {endpoint: self.callbacks.labels(endpoint, "stored") for endpoint in ENDPOINTS}
        self.duplicates = {endpoint: self.callbacks.labels(endpoint, "duplicate") for endpoint in ENDPOINTS}
        for endpoint in ENDPOINTS:
            for reason in REJECT_REASONS:
                self.rejected.labels(endpoint, reason)

    def error_label(self, code: int) -> str:
        text = str(code)
        if text in self._codes or len(self._codes) < MAX_ERROR_CODES:
            self._codes.add(text)
            return text
        return OTHER

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
