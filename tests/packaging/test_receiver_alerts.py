"""The receiver's alert rules, as charts/twilio-account renders them: PromQL that parses, in every run, and
unit tests in Prometheus's rule-test format run by the real promtool (scripts/promtool.sh builds it)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml

from tests.packaging.charts import ACCOUNT_CHART, ROOT, one, render

ALERTS = Path(__file__).parent / "alerts"
PROMTOOL_SCRIPT = ROOT / "scripts" / "promtool.sh"
EXPECTED = {
    "TwilioDeliveryFailureRatioHigh",
    "TwilioErrorCodeSpike",
    "TwilioCallbacksRejected",
    "TwilioReceiverDown",
    "TwilioReceiverDatabaseDown",
    "TwilioRepairsPilingUp",
    "TwilioUsageAlertFired",
}


def rule_groups() -> list[dict[str, Any]]:
    values = {"receiver": {"enabled": True, "alerts": {"enabled": True}}}
    rule = one(render(ACCOUNT_CHART, values, namespace="shop", name="shop"), "PrometheusRule")
    groups: list[dict[str, Any]] = rule["spec"]["groups"]
    return groups


def promtool() -> str | None:
    """The cached promtool, or one built now; None where it cannot be had (no Go toolchain)."""
    found = subprocess.run([str(PROMTOOL_SCRIPT)], capture_output=True, text=True, check=False)
    path = found.stdout.strip()
    return path if found.returncode == 0 and path else shutil.which("promtool")


def test_every_rule_parses_and_is_tested() -> None:
    rules = [rule for group in rule_groups() for rule in group["rules"]]
    assert {rule["alert"] for rule in rules} == EXPECTED
    for rule in rules:
        promql_parser.parse(rule["expr"])  # raises ValueError on a syntax error
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
    tests = yaml.safe_load((ALERTS / "receiver.test.yaml").read_text())["tests"]
    tested = {case["alertname"] for test in tests for case in test["alert_rule_test"] if case["exp_alerts"]}
    assert tested == EXPECTED, "every alert has a test in which it fires"


def test_alerts_off_unless_asked_for() -> None:
    docs = render(ACCOUNT_CHART, {"receiver": {"enabled": True}}, namespace="shop", name="shop")
    assert not [d for d in docs if d["kind"] == "PrometheusRule"]


def test_promtool_checks_and_unit_tests_the_rules(tmp_path: Path) -> None:
    binary = promtool()
    if binary is None:
        pytest.skip(
            "no promtool and no Go toolchain to build it (scripts/promtool.sh); the rules were parsed"
        )
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": rule_groups()}, sort_keys=False))
    shutil.copy(ALERTS / "receiver.test.yaml", tmp_path / "receiver.test.yaml")
    checked = subprocess.run(
        [binary, "check", "rules", "rules.yaml"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run(
        [binary, "test", "rules", "receiver.test.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
