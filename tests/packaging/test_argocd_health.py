"""argocd/health.lua in Argo CD's own Lua engine (gopher-lua in Argo CD's sandbox, tests/packaging/argocd_lua)
and in real Lua 5.1 (lupa), against objects captured from the operator.

argocd/testdata/ holds what `kubectl get -o json` returned for objects in each state
(tests/packaging/capture_argocd_fixtures.py writes them); argocd/health_test.yaml says what Argo CD must
show for each, in the format of Argo CD's own resource_customizations tests.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.packaging.argocd_lua import ArgoLua, harness_path, lua51_run
from twilio_operator.reconcile.registry import REGISTRY

ARGOCD = Path(__file__).resolve().parents[2] / "argocd"
SCRIPT = (ARGOCD / "health.lua").read_text()
CASES = yaml.safe_load((ARGOCD / "health_test.yaml").read_text())["tests"]
KINDS = tuple(entry.kind.kind for entry in REGISTRY)


Health = Callable[[dict[str, Any]], dict[str, str]]


@pytest.fixture(scope="module", params=["lua51", "argocd"])
def health(request: pytest.FixtureRequest) -> Health:
    """The script run the way Argo CD does (a global `obj`, the script's top-level `return hs`), in Lua 5.1
    or in Argo CD's engine."""
    if request.param == "lua51":
        return lambda obj: {str(k): str(v) for k, v in lua51_run(SCRIPT, obj).items()}
    program, why = harness_path()
    if program is None:
        pytest.skip(why)
    engine = ArgoLua(program)
    return lambda obj: dict(engine.one("health", SCRIPT, obj)["health"])


def load(case: dict[str, Any]) -> dict[str, Any]:
    obj: dict[str, Any] = json.loads((ARGOCD / case["inputPath"]).read_text())
    return obj


@pytest.mark.parametrize("case", CASES, ids=[Path(c["inputPath"]).stem for c in CASES])
def test_captured_object(case: dict[str, Any], health: Health) -> None:
    assert health(load(case)) == case["healthStatus"]


def test_fixtures_cover_every_kind_and_status() -> None:
    kinds = {load(c)["kind"] for c in CASES}
    statuses = {c["healthStatus"]["status"] for c in CASES}
    assert kinds == set(KINDS)
    assert statuses == {"Healthy", "Progressing", "Degraded", "Suspended"}
    assert sorted(c["inputPath"] for c in CASES) == sorted(
        f"testdata/{p.name}" for p in (ARGOCD / "testdata").glob("*.json")
    ), "every fixture has an expectation"


def ready_object() -> dict[str, Any]:
    return load(next(c for c in CASES if c["inputPath"].endswith("subaccount-ready.json")))


def with_conditions(obj: dict[str, Any], **conditions: tuple[str, str]) -> dict[str, Any]:
    changed = copy.deepcopy(obj)
    for cond in changed["status"]["conditions"]:
        if cond["type"] in conditions:
            cond["status"], cond["reason"] = conditions[cond["type"]]
            cond["message"] = "why"
    return changed


@pytest.mark.parametrize(
    ("ready", "synced", "expected"),
    [
        # A sender refused after the service itself converged: Ready stays True, Synced names the reason.
        (("True", "Available"), ("False", "SenderInUse"), "Degraded"),
        (("True", "Available"), ("False", "SecretConflict"), "Degraded"),
        (("False", "Unavailable"), ("False", "SecretLost"), "Degraded"),
        (("False", "Unavailable"), ("False", "TwilioRejected"), "Degraded"),
        (("False", "Unavailable"), ("False", "SubaccountClosed"), "Degraded"),
        (("False", "Unavailable"), ("False", "InvalidSpec"), "Degraded"),
        # A drift pass that hit a 503 on an object that exists: still transient.
        (("True", "Available"), ("False", "ReconcileError"), "Progressing"),
        (("True", "Available"), ("False", "UnexpectedResponse"), "Progressing"),
        (("False", "SubaccountSuspended"), ("False", "SubaccountSuspended"), "Suspended"),
        (("False", "Creating"), ("True", "ReconcileSuccess"), "Progressing"),
        (("Unknown", "Creating"), ("True", "ReconcileSuccess"), "Progressing"),
    ],
)
def test_condition_combinations(
    ready: tuple[str, str], synced: tuple[str, str], expected: str, health: Health
) -> None:
    obj = with_conditions(ready_object(), Ready=ready, Synced=synced)
    assert health(obj)["status"] == expected


def test_condition_without_its_own_generation_uses_the_status_one(health: Health) -> None:
    obj = ready_object()
    for cond in obj["status"]["conditions"]:
        del cond["observedGeneration"]
    assert health(obj)["status"] == "Healthy"
    obj["metadata"]["generation"] = obj["status"]["observedGeneration"] + 1
    assert health(obj)["status"] == "Progressing"


def test_paused_wins_over_a_stale_generation(health: Health) -> None:
    obj = with_conditions(ready_object(), Synced=("False", "ReconcilePaused"))
    obj["metadata"]["generation"] += 1
    assert health(obj)["status"] == "Suspended"


def test_the_argocd_cm_patch_embeds_the_script_for_every_kind() -> None:
    patch = yaml.safe_load((ARGOCD / "argocd-cm-patch.yaml").read_text())
    assert patch["metadata"]["name"] == "argocd-cm"
    health = {key: value for key, value in patch["data"].items() if ".health." in key}
    assert health == {f"resource.customizations.health.twilio.operator.dev_{k}": SCRIPT for k in KINDS}
