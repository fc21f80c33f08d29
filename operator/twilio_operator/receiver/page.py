"""`GET /`: the delivery page, plain HTML with inline style and no script or external asset.

Every figure is rendered from the same summary `GET /api/summary` returns, and carries ``data-*``
attributes naming it, so a browser test can read the page and compare it with the API.
"""

from __future__ import annotations

from html import escape
from typing import Any

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d1d1f;background:#fafafa}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}
.muted{color:#6e6e73}table{border-collapse:collapse;background:#fff;margin-bottom:8px}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:right}th{background:#f0f0f2}
td.l,th.l{text-align:left}.bad{color:#b00020}.good{color:#0a7d28}
"""
FIELDS = ("sent", "delivered", "undelivered", "failed")


def _number(value: Any, kind: str = "") -> str:
    if value is None:
        return "-"
    if kind == "rate":
        return f"{value * 100:.1f}%"
    if kind == "seconds":
        return f"{value:.2f} s"
    return str(value)


def _cell(group: str, window: str, field: str, value: Any, kind: str = "", css: str = "") -> str:
    raw = "" if value is None else str(value)
    return (
        f'<td class="{css}" data-group="{escape(group)}" data-window="{window}" data-field="{field}" '
        f'data-value="{escape(raw)}">{escape(_number(value, kind))}</td>'
    )


def render(summary: dict[str, Any]) -> str:
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        "<meta name=viewport content='width=device-width'><title>Message delivery</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>Message delivery</h1>",
        f"<p class=muted>Generated <time id=generated>{escape(str(summary['generatedAt']))}</time>. "
        "Messages first seen in the window, by their furthest status; latency is sent → delivered.</p>",
    ]
    if not summary["groups"]:
        parts.append("<p id=empty>No messages received yet.</p>")
    for group in summary["groups"]:
        key = f"{group['subaccount']}/{group['service']}"
        parts.append(
            f'<h2 data-group="{escape(key)}">Subaccount <b>{escape(group["subaccount"])}</b>, service '
            f"<b>{escape(group['service'])}</b> "
            f"<span class=muted>{escape(group['serviceSid'] or '')}</span></h2>"
        )
        parts.append(
            "<table class=windows><tr><th class=l>window</th>"
            + "".join(f"<th>{field}</th>" for field in FIELDS)
            + "<th>delivery rate</th><th>p50 latency</th><th>p95 latency</th></tr>"
        )
        for window, label in (("hour", "last hour"), ("day", "last day")):
            numbers = group["windows"][window]
            rate = numbers["deliveryRate"]
            css = "" if rate is None else ("good" if rate >= 0.95 else "bad")
            parts.append(
                f"<tr><td class=l>{label}</td>"
                + "".join(_cell(key, window, field, numbers[field]) for field in FIELDS)
                + _cell(key, window, "deliveryRate", rate, "rate", css)
                + _cell(key, window, "p50LatencySeconds", numbers["p50LatencySeconds"], "seconds")
                + _cell(key, window, "p95LatencySeconds", numbers["p95LatencySeconds"], "seconds")
                + "</tr>"
            )
        parts.append("</table>")
        if group["topErrors"]:
            parts.append(
                "<table class=errors><tr><th>error code</th><th class=l>meaning</th><th>messages</th></tr>"
            )
            for error in group["topErrors"]:
                parts.append(
                    f'<tr data-group="{escape(key)}" data-error="{error["code"]}"><td>{error["code"]}</td>'
                    f"<td class=l>{escape(error['description'])}</td>"
                    f"<td data-field=count>{error['count']}</td></tr>"
                )
            parts.append("</table>")
    parts.append("<h2>Most recent failures</h2>")
    if summary["recentFailures"]:
        parts.append(
            "<table id=failures><tr><th class=l>message</th><th class=l>subaccount/service</th>"
            "<th class=l>status</th><th>error</th><th class=l>meaning</th><th class=l>at</th></tr>"
        )
        for failure in summary["recentFailures"]:
            repaired = " (repaired)" if failure["repaired"] else ""
            parts.append(
                f'<tr data-sid="{escape(failure["sid"])}"><td class=l>{escape(failure["sid"])}</td>'
                f"<td class=l>{escape(failure['subaccount'])}/{escape(failure['service'])}</td>"
                f"<td class='l bad'>{escape(failure['status'])}{repaired}</td>"
                f"<td>{failure['errorCode'] or ''}</td><td class=l>{escape(failure['description'])}</td>"
                f"<td class=l>{escape(failure['at'] or '')}</td></tr>"
            )
        parts.append("</table>")
    else:
        parts.append("<p class=muted>None.</p>")
    parts.extend(_usage_alerts(summary["recentUsageAlerts"]))
    parts.append("</body></html>")
    return "\n".join(parts)


def _usage_alerts(alerts: list[dict[str, Any]]) -> list[str]:
    parts = ["<h2>Usage alerts fired</h2>"]
    if not alerts:
        return [*parts, "<p class=muted>None.</p>"]
    parts.append(
        "<table id=usage-alerts><tr><th class=l>alert</th><th class=l>subaccount</th>"
        "<th class=l>usage category</th><th>threshold</th><th>value</th><th class=l>fired</th></tr>"
    )
    for alert in alerts:
        name, fired = escape(alert["alert"] or "-"), escape(alert["dateFired"] or "")
        parts.append(
            f'<tr data-trigger="{escape(alert["triggerSid"])}"><td class=l>{name}</td>'
            f"<td class=l>{escape(alert['subaccount'])}</td><td class=l>{escape(alert['usageCategory'])}</td>"
            f"<td>{escape(alert['triggerBy'])} {alert['triggerValue']:g}</td>"
            f"<td class=bad>{alert['currentValue']:g}</td><td class=l>{fired}</td></tr>"
        )
    parts.append("</table>")
    return parts
