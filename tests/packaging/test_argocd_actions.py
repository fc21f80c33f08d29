"""Argo CD resource actions for our kinds (argocd/actions/, shipped in argocd-cm-patch.yaml and the operator
chart), run in Argo CD's own Lua engine (gopher-lua in Argo CD's sandbox) and in Lua 5.1, against objects
captured from the operator; argocd/actions/action_test.yaml says what each must give, in Argo CD's format."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.packaging.argocd_lua import ArgoLua, harness_path, lua51_run, restore_empty
from tests.packaging.charts import OPERATOR_CHART, render
from twilio_operator.reconcile.registry import REGISTRY

ARGOCD = Path(__file__).resolve().parents[2] / "argocd"
ACTIONS = ARGOCD / "actions"
TESTS = yaml.safe_load((ACTIONS / "action_test.yaml").read_text())
PATCH = yaml.safe_load((ARGOCD / "argocd-cm-patch.yaml").read_text())["data"]
GROUP = "twilio.operator.dev"
PREFIX = f"{GROUP}/"
# Written by an action as the time it ran; the expected outputs hold this in their place.
STAMPED = (PREFIX + "rotate-requested-at", PREFIX + "reconcile-requested-at")
EXPECTED_STAMP = "2026-01-01T00:00:00Z"
JsonObj = dict[str, Any]


def shipped(kind: str) -> JsonObj:
    """The actions config argocd-cm gets for a kind: discovery.lua and the definitions."""
    config: JsonObj = yaml.safe_load(PATCH[f"resource.customizations.actions.{GROUP}_{kind}"])
    return config


def action_script(kind: str, name: str) -> str:
    (definition,) = [d for d in shipped(kind)["definitions"] if d["name"] == name]
    return str(definition["action.lua"])


def load(relative: str) -> JsonObj:
    obj: JsonObj = json.loads((ACTIONS / relative).read_text())
    return obj


class Engine:
    """Discovery and actions in one engine, with Argo CD's conversion of what a script returns."""

    discover: Callable[[str, JsonObj], list[JsonObj]]
    act: Callable[[str, JsonObj], JsonObj]


def lua51_engine() -> Engine:
    engine = Engine()

    def discover(script: str, obj: JsonObj) -> list[JsonObj]:
        found = lua51_run(script, obj)
        return [_action(name, value) for name, value in sorted(found.items())]

    engine.discover = discover
    engine.act = lambda script, obj: dict(restore_empty(lua51_run(script, obj), obj))
    return engine


def _action(name: str, value: Any) -> JsonObj:
    """What Argo CD makes of an entry of discovery's table (a ResourceAction, empty fields left out)."""
    fields = value if isinstance(value, dict) else {}
    shown = {k: v for k, v in fields.items() if k in ("displayName", "iconClass")}
    action = {"name": name, **shown}
    if fields.get("disabled") is True:
        action["disabled"] = True
    return action


def argocd_engine(program: Path) -> Engine:
    harness = ArgoLua(program)
    engine = Engine()
    engine.discover = lambda script, obj: list(harness.one("discovery", script, obj)["actions"])

    def act(script: str, obj: JsonObj) -> JsonObj:
        (impacted,) = harness.one("action", script, obj)["impacted"]
        assert impacted["operation"] == "patch"
        return dict(impacted["resource"])

    engine.act = act
    return engine


@pytest.fixture(scope="module", params=["lua51", "argocd"])
def engine(request: pytest.FixtureRequest) -> Engine:
    if request.param == "lua51":
        return lua51_engine()
    program, why = harness_path()
    if program is None:
        pytest.skip(why)
    return argocd_engine(program)


def stamped_now(obj: JsonObj) -> JsonObj:
    """The object with each timestamp an action wrote checked (a UTC time of the last minute) and replaced
    by the expected outputs' placeholder."""
    annotations = obj["metadata"].get("annotations") or {}
    for key in STAMPED:
        if key in annotations:
            value = annotations[key]
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", value), f"{key}: {value!r}"
            age = time.time() - time.mktime(time.strptime(value, "%Y-%m-%dT%H:%M:%SZ")) + time.timezone
            assert -5 < age < 60, f"{key}: {value} is not now"
            annotations[key] = EXPECTED_STAMP
    return obj


@pytest.mark.parametrize("case", TESTS["discoveryTests"], ids=lambda c: Path(c["inputPath"]).stem)
def test_discovery(case: JsonObj, engine: Engine) -> None:
    obj = load(case["inputPath"])
    found = engine.discover(shipped(obj["kind"])["discovery.lua"], obj)
    assert found == case["result"]


@pytest.mark.parametrize(
    "case", TESTS["actionTests"], ids=lambda c: f"{c['action']}-{Path(c['inputPath']).stem}"
)
def test_action(case: JsonObj, engine: Engine) -> None:
    obj = load(case["inputPath"])
    result = stamped_now(engine.act(action_script(obj["kind"], case["action"]), obj))
    assert result == load(case["expectedOutputPath"])
    # Argo CD patches the difference: only annotations change, never spec or status.
    changed = {k for k in result["metadata"] if result["metadata"][k] != obj["metadata"].get(k)}
    assert {k for k in result if result[k] != obj.get(k)} <= {"metadata"} and changed == {"annotations"}


def test_every_kind_gets_its_actions_and_rotate_only_where_a_key_rotates() -> None:
    for entry in REGISTRY:
        names = [d["name"] for d in shipped(entry.kind.kind)["definitions"]]
        rotates = "rotation" in entry.kind.spec.model_fields
        assert names == sorted(["pause", "request-sync", "resume", *(["rotate"] if rotates else [])])
        for name in names:
            assert action_script(entry.kind.kind, name) == (ACTIONS / name / "action.lua").read_text()


def test_discovery_offers_rotate_on_the_kinds_that_have_it(engine: Engine) -> None:
    for entry in REGISTRY:
        obj = {"apiVersion": f"{GROUP}/v1alpha1", "kind": entry.kind.kind, "metadata": {"name": "x"}}
        names = {a["name"] for a in engine.discover(shipped(entry.kind.kind)["discovery.lua"], obj)}
        assert ("rotate" in names) == (
            "rotate" in [d["name"] for d in shipped(entry.kind.kind)["definitions"]]
        )


def test_the_chart_renders_the_same_actions() -> None:
    docs = render(OPERATOR_CHART, {"argocd": {"actions": {"enabled": True}}}, namespace="twilio-system")
    (config,) = [
        d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("argocd-health")
    ]
    assert config["data"] == {
        k: v for k, v in PATCH.items() if k.startswith("resource.customizations.actions.")
    }


# What the harness shows of Argo CD's sandbox, and why the scripts are written as they are.


@pytest.fixture(scope="module")
def argocd() -> ArgoLua:
    program, why = harness_path()
    if program is None:
        pytest.skip(why)
    return ArgoLua(program)


@pytest.mark.parametrize(
    ("script", "error"),
    [
        ('return {status = string.lower("X")}', "attempt to index a non-table object(nil) with key 'lower'"),
        ('return {status = os.date("!%Y")}', "attempt to index a non-table object(nil) with key 'date'"),
        ("return {status = math.floor(1)}", "attempt to index a non-table object(nil) with key 'floor'"),
    ],
    ids=["no-string-library", "no-global-os", "no-math-library"],
)
def test_argocd_offers_no_string_math_or_global_os(argocd: ArgoLua, script: str, error: str) -> None:
    (answer,) = argocd.run([{"mode": "health", "script": script, "obj": {}}])
    assert error in answer.get("error", ""), answer


def test_argocd_offers_os_date_through_require(argocd: ArgoLua) -> None:
    script = 'local os = require("os"); return {status = "Healthy", message = os.date("!%Y-%m-%dT%XZ", 0)}'
    assert argocd.one("health", script, {})["health"] == {
        "status": "Healthy",
        "message": "1970-01-01T00:00:00Z",
    }
