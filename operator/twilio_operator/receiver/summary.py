"""The delivery summary behind the page (`GET /`) and `GET /api/summary`: one computation for both; and
the API's form of usage alerts and archive days."""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from .directory import Directory
from .statuses import describe_error
from .store.base import LATENCIES, RECENT_FAILURES, TOP_ERRORS, WINDOW_COUNTS, Store
from .store.model import ArchiveDay, UsageAlert, message_from_row

WINDOWS = {"hour": 3600, "day": 86400}
COUNTED = ("delivered", "undelivered", "failed")
# Percentiles come from the most recent delivered messages of the window, at most this many.
LATENCY_SAMPLE = 20_000
TOP_ERRORS_SHOWN = 5
RECENT_FAILURES_SHOWN = 10
USAGE_ALERTS_SHOWN = 10


def iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _percentile(values: list[float], q: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 3)
    return round(statistics.quantiles(values, n=100, method="inclusive")[q - 1], 3)


async def summary(store: Store, directory: Directory, now: float | None = None) -> dict[str, Any]:
    now = time.time() if now is None else now
    groups: dict[tuple[str | None, str | None], dict[str, Any]] = {}

    def group(account: object, service: object) -> dict[str, Any]:
        key = (str(account) if account else None, str(service) if service else None)
        if key not in groups:
            groups[key] = {
                "subaccount": directory.subaccount(key[0]),
                "service": directory.service(key[1]),
                "accountSid": key[0],
                "serviceSid": key[1],
                "windows": {name: _empty() for name in WINDOWS},
                "topErrors": [],
            }
        return groups[key]

    for name, seconds in WINDOWS.items():
        since = now - seconds
        for account, service, status, count in await store.fetch(WINDOW_COUNTS, since):
            window = group(account, service)["windows"][name]
            window["sent"] += int(count)  # type: ignore[call-overload]
            if status in COUNTED:
                window[str(status)] += int(count)  # type: ignore[call-overload]
        latencies: defaultdict[tuple[object, object], list[float]] = defaultdict(list)
        for account, service, seconds_taken in await store.fetch(LATENCIES, since, LATENCY_SAMPLE):
            latencies[(account, service)].append(float(seconds_taken))  # type: ignore[arg-type]
        for (account, service), values in latencies.items():
            window = group(account, service)["windows"][name]
            window["p50LatencySeconds"] = _percentile(values, 50)
            window["p95LatencySeconds"] = _percentile(values, 95)
    for found in groups.values():
        for window in found["windows"].values():
            done = sum(window[status] for status in COUNTED)
            window["deliveryRate"] = round(window["delivered"] / done, 4) if done else None

    errors: defaultdict[tuple[object, object], list[tuple[int, int]]] = defaultdict(list)
    for account, service, code, count in await store.fetch(TOP_ERRORS, now - WINDOWS["day"]):
        errors[(account, service)].append((int(code), int(count)))  # type: ignore[call-overload]
    for (account, service), codes in errors.items():
        codes.sort(key=lambda item: (-item[1], item[0]))
        group(account, service)["topErrors"] = [
            {"code": code, "description": describe_error(code), "count": count}
            for code, count in codes[:TOP_ERRORS_SHOWN]
        ]

    failures = []
    for row in await store.fetch(RECENT_FAILURES, RECENT_FAILURES_SHOWN):
        message = message_from_row(row)
        failures.append(
            {
                "sid": message.sid,
                "subaccount": directory.subaccount(message.account_sid),
                "service": directory.service(message.service_sid),
                "status": message.status,
                "errorCode": message.error_code,
                "description": describe_error(message.error_code),
                "at": iso(message.final_at),
                "repaired": message.repaired,
            }
        )
    ordered = sorted(groups.values(), key=lambda g: (g["subaccount"], g["service"], g["serviceSid"] or ""))
    alerts = [usage_alert_record(a, directory) for a in await store.usage_alerts(USAGE_ALERTS_SHOWN)]
    return {
        "generatedAt": iso(now),
        "groups": ordered,
        "recentFailures": failures,
        "recentUsageAlerts": alerts,
    }


def usage_alert_record(alert: UsageAlert, directory: Directory) -> dict[str, Any]:
    return {
        "accountSid": alert.account_sid,
        "subaccount": directory.subaccount(alert.account_sid),
        "alert": alert.alert,
        "triggerSid": alert.trigger_sid,
        "usageCategory": alert.usage_category,
        "triggerBy": alert.trigger_by,
        "triggerValue": alert.trigger_value,
        "currentValue": alert.current_value,
        "recurring": alert.recurring,
        "dateFired": iso(alert.date_fired),
        "receivedAt": iso(alert.received_at),
    }


def archive_day_record(day: ArchiveDay, directory: Directory) -> dict[str, Any]:
    return {
        "accountSid": day.account_sid,
        "subaccount": directory.subaccount(day.account_sid),
        "resourceType": day.resource_type,
        "day": day.day,
        "size": day.size,
        "notifiedAt": iso(day.notified_at),
        "fetchedAt": iso(day.fetched_at),
        "messages": day.messages,
    }


def _empty() -> dict[str, Any]:
    return {
        "sent": 0,
        "delivered": 0,
        "undelivered": 0,
        "failed": 0,
        "deliveryRate": None,
        "p50LatencySeconds": None,
        "p95LatencySeconds": None,
    }
