"""examples/argocd/: the Applications point at real paths, and what they sync is ordered and consistent."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.packaging.charts import ROOT, Manifest, by_kind, kube_versions, load_values, render, validate
from twilio_operator.reconcile.registry import REGISTRY

EXAMPLES = ROOT / "examples" / "argocd"
WAVE = "argocd.argoproj.io/sync-wave"


def documents(path: Path) -> list[Manifest]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


APPLICATIONS = {
    d["metadata"]["name"]: d for p in sorted((EXAMPLES / "applications").glob("*.yaml")) for d in documents(p)
}
ENVIRONMENTS = sorted(name for name in APPLICATIONS if name.startswith("shop-"))


def sources(app: Manifest) -> list[dict[str, Any]]:
    return list(app["spec"].get("sources") or [app["spec"]["source"]])


def synced_objects(app: Manifest) -> list[Manifest]:
    """What Argo CD would apply for `app`: each source rendered (Helm) or read (a directory)."""
    namespace = app["spec"]["destination"]["namespace"]
    docs: list[Manifest] = []
    for source in sources(app):
        path = ROOT / source["path"]
        if "helm" in source:
            values: dict[str, Any] = {}
            for name in source["helm"].get("valueFiles") or []:
                values.update(load_values((path / name).resolve()))
            docs += render(path, values, namespace=namespace, name=source["helm"]["releaseName"])
        else:
            docs += [d for p in sorted(path.glob("*.yaml")) for d in documents(p)]
    return docs


def test_every_environment_has_an_application() -> None:
    assert ENVIRONMENTS == ["shop-dev", "shop-prod", "shop-staging"]
    assert "twilio-operator" in APPLICATIONS


@pytest.mark.parametrize("name", sorted(APPLICATIONS))
def test_sources_exist(name: str) -> None:
    for source in sources(APPLICATIONS[name]):
        path = ROOT / source["path"]
        assert path.is_dir(), source["path"]
        for values_file in (source.get("helm") or {}).get("valueFiles") or []:
            resolved = (path / values_file).resolve()
            assert resolved.is_file() and resolved.is_relative_to(ROOT), values_file


@pytest.mark.parametrize("name", ENVIRONMENTS)
def test_sync_waves_order_subaccount_then_keys_and_services_then_workloads(name: str) -> None:
    docs = synced_objects(APPLICATIONS[name])
    groups = {
        "TwilioSubaccount": "subaccount",
        "Ingress": "subaccount",
        "ApiKey": "keys",
        "MessagingService": "keys",
        "EventStream": "keys",
        "PhoneNumber": "keys",
    }
    waves: dict[str, set[int]] = {}
    for doc in docs:
        # The chart's receiver comes up with the Ingress in front of it, before services call it.
        receiver = doc["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "receiver"
        group = "subaccount" if receiver else groups.get(doc["kind"], "workloads")
        waves.setdefault(group, set()).add(int(doc["metadata"]["annotations"][WAVE]))
    assert max(waves["subaccount"]) < min(waves["keys"]), waves
    assert max(waves["keys"]) < min(waves["workloads"]), waves
    for subaccount in by_kind(docs, "TwilioSubaccount"):
        assert subaccount["metadata"]["annotations"]["argocd.argoproj.io/sync-options"] == "Prune=confirm"


@pytest.mark.parametrize("name", ENVIRONMENTS)
def test_workloads_read_secrets_the_api_keys_write(name: str) -> None:
    docs = synced_objects(APPLICATIONS[name])
    written = {d["spec"].get("secretName", d["metadata"]["name"]) for d in by_kind(docs, "ApiKey")}
    read = {
        ref["secretRef"]["name"]
        for d in by_kind(docs, "Deployment")
        for c in d["spec"]["template"]["spec"]["containers"]
        for ref in c.get("envFrom") or []
        if "secretRef" in ref
    }
    assert read and read <= written
    # The Ingress the MessagingServices use sends to the workloads' receiver Service.
    services = {d["metadata"]["name"]: d for d in by_kind(docs, "Service")}
    for ingress in by_kind(docs, "Ingress"):
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                ports = {p["port"] for p in services[backend["name"]]["spec"]["ports"]}
                assert backend["port"]["number"] in ports


@pytest.mark.parametrize("version", kube_versions())
def test_workloads_are_valid_kubernetes(version: str) -> None:
    docs = [d for p in sorted((EXAMPLES / "workloads").glob("*.yaml")) for d in documents(p)]
    assert [e for d in docs if (e := validate(d, version))] == []


def test_the_operator_application_ships_the_health_checks() -> None:
    docs = synced_objects(APPLICATIONS["twilio-operator"])
    (config,) = by_kind(docs, "ConfigMap")
    assert config["metadata"]["namespace"] == "argocd"
    # A health check per kind (the resource actions are the chart's opt-in).
    assert sorted(config["data"]) == sorted(
        f"resource.customizations.health.twilio.operator.dev_{entry.kind.kind}" for entry in REGISTRY
    )


def substitute(template: str, values: dict[str, str]) -> str:
    """ApplicationSet's default (fasttemplate) parameters: {{name}} replaced by the element's value."""
    return re.sub(r"\{\{(\w+)\}\}", lambda match: str(values[match.group(1)]), template)


def test_applicationset_generates_the_same_applications() -> None:
    (appset,) = documents(EXAMPLES / "applicationset.yaml")
    template = json.dumps(appset["spec"]["template"])
    elements = appset["spec"]["generators"][0]["list"]["elements"]
    assert sorted(f"shop-{e['env']}" for e in elements) == ENVIRONMENTS
    for element in elements:
        generated = json.loads(substitute(template, element))
        app = APPLICATIONS[generated["metadata"]["name"]]
        assert generated["metadata"]["annotations"] == app["metadata"]["annotations"]
        assert generated["spec"] == app["spec"]
