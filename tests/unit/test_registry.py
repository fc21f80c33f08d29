"""The kind registry is the one list of kinds: the API serves exactly its kinds, and everything derived from
it (CRDs, the chart's RBAC and kind list, Argo CD health checks, the chart's CRD annotation) is up to date."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from twilio_operator import generate
from twilio_operator.api.kinds import KINDS
from twilio_operator.reconcile.registry import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "operator" / "twilio_operator"


def test_the_api_serves_exactly_the_registered_kinds() -> None:
    assert [entry.kind for entry in REGISTRY] == list(KINDS)


def test_generated_files_are_up_to_date() -> None:
    stale = [str(path.relative_to(ROOT)) for path in generate.stale(ROOT)]
    assert stale == [], "generated files are stale: run `make generate`"


def test_chart_lists_the_registry_crds() -> None:
    chart = yaml.safe_load((ROOT / generate.CHART / "Chart.yaml").read_text())
    listed = yaml.safe_load(chart["annotations"]["artifacthub.io/crds"])
    assert [c["name"] for c in listed] == [entry.kind.crd_name for entry in REGISTRY]


def test_rbac_rules_follow_the_registry() -> None:
    rules = generate.rbac_rules()
    resources = {(group, r) for rule in rules for group in rule["apiGroups"] for r in rule["resources"]}
    for entry in REGISTRY:
        assert (entry.kind.group, entry.kind.plural) in resources
        assert (entry.kind.group, f"{entry.kind.plural}/status") in resources
    assert ("networking.k8s.io", "ingresses") in resources


# Which of the operator's own packages each layer may import (besides the package root). A module outside
# these folders sits at the top (handlers, runner, cli, generate) and may import any layer but sandbox.
LAYERS: dict[str, set[str]] = {
    "clock": set(),
    "api": {"clock"},
    "settings": set(),
    "metrics": set(),
    "twilio": {"api", "clock", "settings", "metrics"},
    "kube": {"api", "clock", "metrics"},
    "reconcile": {"api", "clock", "settings", "metrics", "twilio", "kube"},
    # The delivery-data receiver is a process of its own: Kubernetes access, nothing of the operator's side.
    "receiver": {"kube"},
}
TOP = {
    "api",
    "clock",
    "settings",
    "metrics",
    "twilio",
    "kube",
    "reconcile",
    "handlers",
    "runner",
    "generate",
    "receiver",
    "tree",
    "plugin",
}


def _imports(path: Path) -> set[str]:
    """The operator's top-level modules or packages a module imports (relative or absolute)."""
    module = path.relative_to(PACKAGE.parent).with_suffix("").parts
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(module[: len(module) - node.level])
                target = [*base, *(node.module.split(".") if node.module else [])]
                names = [target] if node.module else [[*target, a.name] for a in node.names]
            else:
                names = [node.module.split(".")] if node.module else []
            found |= {n[1] for n in names if len(n) > 1 and n[0] == "twilio_operator"}
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("twilio_operator.")}
    # `from .. import GROUP` names an attribute of the package root, not a module.
    return {name for name in found if (PACKAGE / name).is_dir() or (PACKAGE / f"{name}.py").exists()}


def _operator_modules() -> list[Path]:
    return [p for p in sorted(PACKAGE.rglob("*.py")) if "sandbox" not in p.relative_to(PACKAGE).parts]


@pytest.mark.parametrize("path", _operator_modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_run_one_way(path: Path) -> None:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    layer = parts[0]
    imported = _imports(path) - {layer, "__init__"}
    if layer == "cli":
        # The CLI loads the sandbox lazily, for `sandbox` and `demo` only.
        imported -= {"sandbox"}
    allowed = LAYERS.get(layer, TOP)
    assert imported <= allowed, f"{'/'.join(parts)} imports {sorted(imported - allowed)}"


def test_the_layer_check_sees_imports() -> None:
    assert _imports(PACKAGE / "reconcile" / "managed.py") >= {"twilio", "kube", "clock", "metrics"}
    assert _imports(PACKAGE / "cli.py") >= {"sandbox"}
