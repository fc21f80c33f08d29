"""Render, lint and validate the Helm charts with the real Helm engine (helm-python-sdk) and schemas."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import helm_python
import kubernetes_validate
import yaml
from kubernetes_validate.utils import all_versions

ROOT = Path(__file__).resolve().parents[2]
CHARTS = ROOT / "charts"
OPERATOR_CHART = CHARTS / "twilio-operator"
ACCOUNT_CHART = CHARTS / "twilio-account"
REPO_CRDS = ROOT / "crds"

Manifest = dict[str, Any]

# helm lint severities (helm.sh/helm/v4/pkg/chart/v2/lint/support).
LINT_INFO = 1


def load_values(path: Path) -> dict[str, Any]:
    values = yaml.safe_load(path.read_text()) or {}
    assert isinstance(values, dict), f"{path} is not a mapping"
    return values


def render(
    chart: Path, values: dict[str, Any] | None = None, namespace: str = "default", name: str = "release"
) -> list[Manifest]:
    """Every manifest the chart renders (templates only; Helm keeps crds/ apart), in file order."""
    with helm_python.Chart.load(chart) as loaded:
        files = loaded.render(values or {}, name=name, namespace=namespace)
    docs: list[Manifest] = []
    for filename in sorted(files):
        if filename.endswith("NOTES.txt"):
            continue
        docs.extend(doc for doc in yaml.safe_load_all(files[filename]) if doc)
    return docs


def notes(
    chart: Path, values: dict[str, Any] | None = None, namespace: str = "default", name: str = "release"
) -> str:
    with helm_python.Chart.load(chart) as loaded:
        files = loaded.render(values or {}, name=name, namespace=namespace)
    return next(text for filename, text in files.items() if filename.endswith("NOTES.txt"))


def chart_crds(chart: Path) -> dict[str, str]:
    """The chart's crds/ files, by file name, as Helm loads them."""
    with helm_python.Chart.load(chart) as loaded:
        return {Path(crd["filename"]).name: crd["data"] for crd in loaded.crds}


def lint_findings(chart: Path, values: dict[str, Any], kube_version: str) -> list[str]:
    """`helm lint --strict` findings above INFO, and errors."""
    result = helm_python.lint(chart, values, strict=True, kube_version=f"v{kube_version}")
    findings = [
        f"{m['path']}: {m['error']}" for m in result.get("messages") or [] if m["severity"] > LINT_INFO
    ]
    return findings + [str(e) for e in result.get("errors") or []]


@cache
def kube_versions() -> tuple[str, str]:
    """The newest Kubernetes that kubernetes-validate knows, and the one three minors older."""
    versions = all_versions()
    newest = versions[-1]
    major, minor, _ = newest.split(".")
    older = f"{major}.{int(minor) - 3}.0"
    assert older in versions, f"kubernetes-validate has no schemas for {older}"
    return newest, older


def validate(doc: Manifest, version: str) -> str | None:
    """None when `doc` is valid for that Kubernetes version in strict mode (no unknown fields)."""
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        return f"{doc['kind']} {doc['metadata'].get('name')}: {error.message} at {list(error.path)}"
    return None


def by_kind(docs: list[Manifest], kind: str) -> list[Manifest]:
    return [d for d in docs if d["kind"] == kind]


def one(docs: list[Manifest], kind: str) -> Manifest:
    (found,) = by_kind(docs, kind)
    return found
