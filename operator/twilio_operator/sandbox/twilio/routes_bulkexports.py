"""bulkexports.twilio.com/v1: the message-archive configuration of the calling account and its ready days.

Like every v1 product it acts as whoever authenticated. A day's file is fetched with a 307 whose body
(``redirect_to``) and ``Location`` name where the file is; the emulator serves it under ``/__sandbox``.
"""

from __future__ import annotations

from typing import Any

from .calls import Call, Handler, Reply
from .errors import not_found
from .paging import Page, page_request, page_v1
from .usage import ARCHIVE_HOST, ArchiveDay, ExportConfiguration

BASE = "/v1/Exports"


def _configuration(call: Call) -> tuple[str, ExportConfiguration]:
    resource_type = call.path_params["ResourceType"]
    key = (call.account.sid, resource_type)
    return resource_type, call.state.exports.setdefault(key, ExportConfiguration())


def configuration_json(call: Call, resource_type: str, config: ExportConfiguration) -> dict[str, Any]:
    return {
        "enabled": config.enabled,
        "webhook_url": config.webhook_url or None,
        "webhook_method": config.webhook_method if config.webhook_url else None,
        "resource_type": resource_type,
        "url": f"{call.public_base}{BASE}/{resource_type}/Configuration",
    }


def fetch_configuration(call: Call) -> Reply:
    resource_type, config = _configuration(call)
    return Reply(200, configuration_json(call, resource_type, config))


def update_configuration(call: Call) -> Reply:
    resource_type, config = _configuration(call)
    form = call.form
    if "Enabled" in form:
        config.enabled = form["Enabled"].lower() == "true"
    if "WebhookUrl" in form:
        config.webhook_url = form["WebhookUrl"]
    if "WebhookMethod" in form:
        config.webhook_method = form["WebhookMethod"]
    return Reply(200, configuration_json(call, resource_type, config))


def day_json(resource_type: str, day: ArchiveDay) -> dict[str, Any]:
    return {
        "day": day.day,
        "size": day.size,
        "create_date": day.create_date,
        "friendly_name": day.friendly_name,
        "resource_type": resource_type,
    }


def list_days(call: Call) -> Reply:
    resource_type, config = _configuration(call)
    days = sorted(config.days.values(), key=lambda d: d.day, reverse=True)
    request = page_request(call.query)
    # A page number, not a cursor: days are few (one per day) and never removed.
    begin = request.page * request.page_size
    chosen = days[begin : begin + request.page_size]
    more = begin + request.page_size < len(days)
    page = Page(
        records=[day_json(resource_type, d) for d in chosen],
        request=request,
        start=begin,
        next_token=f"PA{chosen[-1].day}" if chosen and more else None,
        previous_token=f"PB{chosen[0].day}" if chosen and begin > 0 else None,
    )
    path = f"{BASE}/{resource_type}/Days"
    return Reply(200, page_v1("days", page, call.public_base, path, call.filters))


def fetch_day(call: Call) -> Reply:
    resource_type, config = _configuration(call)
    day = config.days.get(call.path_params["Day"])
    if day is None:
        raise not_found(call.path)
    where = f"https://{ARCHIVE_HOST}{archive_path(call.account.sid, resource_type, day.day)}"
    return Reply(307, {"redirect_to": where}, headers={"Location": where})


def archive_path(account_sid: str, resource_type: str, day: str) -> str:
    return f"/{account_sid}/{resource_type}/{day}.json.gz"


HANDLERS: dict[str, Handler] = {
    "FetchExportConfiguration": fetch_configuration,
    "UpdateExportConfiguration": update_configuration,
    "ListDay": list_days,
    "FetchDay": fetch_day,
}
