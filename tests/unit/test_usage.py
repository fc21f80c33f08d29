"""The usage pieces that need no Twilio: status figures, callback URLs, what counts as the same archive
configuration, the category list, the per-subaccount gauges and what the tree says of a subaccount."""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from pathlib import Path

import kopf
import pytest
from prometheus_client import generate_latest
from pydantic import ValidationError

from twilio_operator import metrics
from twilio_operator.api.subaccount import TwilioSubaccountSpec, TwilioSubaccountStatus, UsageAlert
from twilio_operator.api.usage_categories import USAGE_CATEGORIES
from twilio_operator.reconcile.indexes import Directory
from twilio_operator.reconcile.model import Resource
from twilio_operator.reconcile.subaccount import figures, ingress_names
from twilio_operator.reconcile.usage import (
    USAGE_CALLBACK_MISSING,
    Findings,
    SubaccountUsage,
    _same,
    callback_url,
    usage_status,
)
from twilio_operator.reconcile.webhooks import INGRESSES
from twilio_operator.sandbox.twilio.contract import SPEC_DIR
from twilio_operator.tree import build, text
from twilio_operator.twilio.usage import ArchiveConfiguration, MonthUsage


def test_the_categories_are_the_specs() -> None:
    spec = json.loads(Path(SPEC_DIR / "twilio_api_v2010.subset.json").read_text())
    assert (
        list(USAGE_CATEGORIES) == spec["components"]["schemas"]["usage_trigger_enum_usage_category"]["enum"]
    )


@pytest.mark.parametrize(
    ("alert", "problem"),
    [
        ({"name": "a", "category": "totalprices", "value": "1"}, "not a Twilio usage category"),
        ({"name": "a", "category": "sms", "value": "+30"}, "should match pattern"),
        ({"name": "A_b", "category": "sms", "value": "1"}, "should match pattern"),
        ({"name": "a", "category": "sms", "value": "1", "recurring": "weekly"}, "Input should be"),
    ],
)
def test_bad_alerts_are_refused(alert: dict[str, str], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        UsageAlert.model_validate(alert)


def test_the_alert_name_goes_in_the_callbacks_query() -> None:
    assert callback_url("https://h.example.com/twilio/usage", "spend") == (
        "https://h.example.com/twilio/usage?alert=spend"
    )
    assert (
        callback_url("https://h.example.com/u?team=a", "spend")
        == "https://h.example.com/u?team=a&alert=spend"
    )


def test_usage_status_counts_messages_and_shows_the_spend_to_the_cent() -> None:
    month = MonthUsage(
        counts={"sms": 38, "sms-outbound": 36, "sms-inbound": 2, "mms": 3, "mms-outbound": 3, "calls": 9},
        total_price=Decimal("0.3002"),
        price_unit="USD",
        as_of="2026-12-06T09:00:00+00:00",
    )
    status = usage_status(month)
    assert (status.messages, status.sms_outbound, status.sms_inbound, status.mms_outbound) == (41, 36, 2, 3)
    assert (status.total_price, status.price_unit, status.spend) == ("0.3002", "USD", "0.30 USD")
    empty = usage_status(MonthUsage({}, Decimal(0), "EUR", None))
    assert (empty.messages, empty.total_price, empty.spend) == (0, "0", "0.00 EUR")


def test_an_archive_webhooks_method_matters_only_with_a_url() -> None:
    on = ArchiveConfiguration(True, "https://h.example.com/a", "POST")
    assert _same(on, on) and not _same(on, ArchiveConfiguration(True, "https://h.example.com/a", "GET"))
    assert _same(ArchiveConfiguration(False, "", "GET"), ArchiveConfiguration(False, "", "POST"))
    assert not _same(on, ArchiveConfiguration(False, "https://h.example.com/a", "POST"))


def test_the_ingresses_a_subaccount_follows() -> None:
    spec = TwilioSubaccountSpec.model_validate(
        {
            "usageCallback": {"ingressRef": {"name": "hooks", "path": "/twilio/usage"}},
            "archives": {
                "messages": {"enabled": True, "webhook": {"ingressRef": {"name": "x", "path": "/a"}}}
            },
        }
    )
    assert ingress_names(spec) == {"hooks", "x"}
    assert ingress_names(TwilioSubaccountSpec()) == set()


def _scrape() -> str:
    return generate_latest(metrics.SUBACCOUNT_USAGE).decode()  # type: ignore[arg-type]


def test_gauges_follow_the_objects_status_and_go_with_it() -> None:
    body = {
        "metadata": {"namespace": "shop", "name": "prod"},
        "status": {
            "usage": {"smsOutbound": 36, "smsInbound": 2, "totalPrice": "0.3002", "priceUnit": "USD"},
            "usageAlerts": [
                {"name": "volume", "sid": "UT" + "0" * 32, "dateFired": "2026-12-06T09:00:00+00:00"},
                {"name": "spend", "sid": "UT" + "1" * 32},
            ],
        },
    }
    figures(body, gone=False)
    scraped = _scrape()
    assert (
        'twilio_operator_subaccount_usage_count{category="sms-outbound",name="prod",namespace="shop"} 36.0'
        in (scraped)
    )
    assert 'twilio_operator_subaccount_spend{currency="USD",name="prod",namespace="shop"} 0.3002' in scraped
    assert 'alert="volume",name="prod",namespace="shop"} 1.7965476e+09' in scraped
    assert 'alert="spend"' not in scraped
    figures(body, gone=True)
    assert 'namespace="shop"' not in _scrape()
    # No usage read yet: no series.
    figures({"metadata": {"namespace": "shop", "name": "new"}, "status": {}}, gone=False)
    assert 'namespace="shop"' not in _scrape()


def test_the_tree_says_what_a_subaccount_costs_and_which_alerts_fired() -> None:
    sub = {
        "kind": "TwilioSubaccount",
        "metadata": {"namespace": "ns", "name": "sub"},
        "spec": {},
        "status": {
            "sid": "AC1",
            "state": "active",
            "conditions": [{"type": "Ready", "status": "True"}, {"type": "Synced", "status": "True"}],
            "usage": {"messages": 41, "spend": "0.30 USD"},
            "usageAlerts": [{"name": "volume", "dateFired": "2026-12-06T09:00:00+00:00"}, {"name": "spend"}],
        },
    }
    assert "active, this month 0.30 USD, 41 messages, alerts fired: volume" in text(build([sub]))


def test_alerts_without_a_callback_make_no_trigger_and_say_why() -> None:
    """The CRD refuses this (a CEL rule); a cluster still on an older CRD (Helm never upgrades crds/) gets
    the same answer from the operator, before any Twilio call."""
    spec = TwilioSubaccountSpec.model_validate(
        {"usageAlerts": [{"name": "spend", "category": "totalprice", "value": "500"}]}
    )
    body = kopf.Body({"metadata": {"name": "dev", "namespace": "acme"}, "spec": {}})
    resource = Resource(body, kopf.Patch(), logging.getLogger("test"), spec, TwilioSubaccountStatus())
    usage = SubaccountUsage(None, None, Directory(INGRESSES))  # type: ignore[arg-type]  # nothing called
    findings = Findings(None, None, None, None)
    assert usage._desired_triggers(resource, findings) is None
    assert [reason for reason, _ in findings.problems] == [USAGE_CALLBACK_MISSING]
    assert "usageCallback" in findings.problems[0][1]
