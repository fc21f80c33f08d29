"""api.twilio.com/2010-04-01 Usage: this month's records (from the messages sent) and usage triggers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .calls import Call, Handler, Reply
from .errors import invalid_parameter, not_found
from .formats import rfc2822, utcnow
from .paging import Page, page_2010, page_request, paginate
from .usage import CATEGORIES, PRICE_UNIT, UsageTrigger, this_month, watched

API = "/2010-04-01"


def _records(call: Call) -> list[dict[str, Any]]:
    account = call.account.sid
    usage = this_month([m for m in call.state.messages.values() if m.account_sid == account])
    today = datetime.now(UTC)
    start = today.replace(day=1).strftime("%Y-%m-%d")
    wanted = call.query.get("Category")
    found = []
    for category in CATEGORIES:
        if wanted and category != wanted:
            continue
        count, price = usage[category]
        unit = "" if category == "totalprice" else "messages"
        found.append(
            {
                "account_sid": account,
                "api_version": "2010-04-01",
                "as_of": today.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
                "category": category,
                "count": _text(count),
                "count_unit": unit,
                "description": category,
                "end_date": today.strftime("%Y-%m-%d"),
                "price": price,
                "price_unit": PRICE_UNIT.lower(),
                "start_date": start,
                "subresource_uris": {},
                "uri": f"{API}/Accounts/{account}/Usage/Records/ThisMonth.json?Category={category}",
                "usage": _text(count),
                "usage_unit": unit,
            }
        )
    return found


def _text(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:.4f}"


def list_this_month(call: Call) -> Reply:
    # A handful of categories: always one page, whatever the page size.
    request = page_request(call.query)
    page = Page(records=_records(call), request=request, start=0, next_token=None, previous_token=None)
    return Reply(200, page_2010("usage_records", page, call.path, call.filters))


def trigger_json(trigger: UsageTrigger) -> dict[str, Any]:
    base = f"{API}/Accounts/{trigger.account_sid}/Usage/Triggers/{trigger.sid}.json"
    # A trigger that fires once has no `recurring` at all: the spec allows none of null, "" or another value.
    recurring = {"recurring": trigger.recurring} if trigger.recurring else {}
    return {
        **recurring,
        "account_sid": trigger.account_sid,
        "api_version": "2010-04-01",
        "callback_method": trigger.callback_method,
        "callback_url": trigger.callback_url,
        "current_value": _text(trigger.current_value),
        "date_created": rfc2822(trigger.date_created),
        "date_fired": rfc2822(trigger.date_fired) if trigger.date_fired else None,
        "date_updated": rfc2822(trigger.date_updated),
        "friendly_name": trigger.friendly_name,
        "sid": trigger.sid,
        "trigger_by": trigger.trigger_by,
        "trigger_value": _text(trigger.trigger_value),
        "uri": base,
        "usage_category": trigger.usage_category,
        "usage_record_uri": f"{API}/Accounts/{trigger.account_sid}/Usage/Records.json"
        f"?Category={trigger.usage_category}",
    }


def create_trigger(call: Call) -> Reply:
    form = call.form
    account = call.account.sid
    trigger_by = form.get("TriggerBy", "usage")
    raw = form["TriggerValue"]
    try:
        value = float(raw.lstrip("+"))
    except ValueError:
        raise invalid_parameter(f"TriggerValue {raw!r} is not a number") from None
    now = utcnow()
    trigger = UsageTrigger(
        sid=call.state.new_sid("UT"),
        account_sid=account,
        callback_url=form["CallbackUrl"],
        callback_method=form.get("CallbackMethod", "POST"),
        friendly_name=form.get("FriendlyName", ""),
        usage_category=form["UsageCategory"],
        trigger_by=trigger_by,
        trigger_value=value,
        recurring=form.get("Recurring", ""),
        date_created=now,
        date_updated=now,
    )
    if raw.startswith("+"):
        # An offset from the value watched now, as Twilio resolves it when the trigger is made.
        usage = this_month([m for m in call.state.messages.values() if m.account_sid == account])
        trigger.trigger_value = watched(trigger, usage) + value
    call.state.triggers[trigger.sid] = trigger
    if call.state.on_usage is not None:
        call.state.on_usage(account)
    return Reply(201, trigger_json(trigger))


def _trigger(call: Call) -> UsageTrigger:
    trigger = call.state.triggers.get(call.path_params["Sid"])
    if trigger is None or trigger.account_sid != call.account.sid:
        raise not_found(call.path)
    return trigger


FILTERS = (("Recurring", "recurring"), ("TriggerBy", "trigger_by"), ("UsageCategory", "usage_category"))


def list_triggers(call: Call) -> Reply:
    found = [t for t in call.state.triggers.values() if t.account_sid == call.account.sid]
    for name, attribute in FILTERS:
        if name in call.query:
            found = [t for t in found if getattr(t, attribute) == call.query[name]]
    page = paginate(found, lambda t: t.sid, call.state.order_of, page_request(call.query), trigger_json)
    return Reply(200, page_2010("usage_triggers", page, call.path, call.filters))


def fetch_trigger(call: Call) -> Reply:
    return Reply(200, trigger_json(_trigger(call)))


def update_trigger(call: Call) -> Reply:
    trigger = _trigger(call)
    form = call.form
    trigger.callback_url = form.get("CallbackUrl", trigger.callback_url)
    trigger.callback_method = form.get("CallbackMethod", trigger.callback_method)
    trigger.friendly_name = form.get("FriendlyName", trigger.friendly_name)
    trigger.date_updated = utcnow()
    return Reply(200, trigger_json(trigger))


def delete_trigger(call: Call) -> Reply:
    call.state.triggers.pop(_trigger(call).sid)
    return Reply(204)


HANDLERS: dict[str, Handler] = {
    "ListUsageRecordThisMonth": list_this_month,
    "CreateUsageTrigger": create_trigger,
    "ListUsageTrigger": list_triggers,
    "FetchUsageTrigger": fetch_trigger,
    "UpdateUsageTrigger": update_trigger,
    "DeleteUsageTrigger": delete_trigger,
}
