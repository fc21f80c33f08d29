"""charts/twilio-account: every values file renders valid custom resources that reference each other."""

from __future__ import annotations

from typing import Any

import helm_python
import pytest
import yaml
from openapi_schema_validator import OAS30Validator

from tests.packaging.charts import (
    ACCOUNT_CHART,
    REPO_CRDS,
    ROOT,
    Manifest,
    by_kind,
    kube_versions,
    lint_findings,
    load_values,
    notes,
    one,
    render,
    validate,
)
from twilio_operator.kube.ingress import resolve, view

GROUP = "twilio.operator.dev"
WAVE = "argocd.argoproj.io/sync-wave"
MONITORING = "monitoring.coreos.com/"
VALUES_FILES = {
    "values.yaml": ACCOUNT_CHART / "values.yaml",
    "values-dev.yaml": ACCOUNT_CHART / "values-dev.yaml",
    "values-staging.yaml": ACCOUNT_CHART / "values-staging.yaml",
    "values-prod.yaml": ACCOUNT_CHART / "values-prod.yaml",
    "examples/isv.yaml": ROOT / "examples" / "helm" / "twilio-account" / "isv.yaml",
}


def crd_schemas() -> dict[str, dict[str, Any]]:
    schemas = {}
    for path in REPO_CRDS.glob("*.yaml"):
        crd = yaml.safe_load(path.read_text())
        (version,) = crd["spec"]["versions"]
        schemas[crd["spec"]["names"]["kind"]] = version["schema"]["openAPIV3Schema"]
    return schemas


SCHEMAS = crd_schemas()


def rendered(values_file: str, namespace: str = "shop") -> list[Manifest]:
    values = load_values(VALUES_FILES[values_file]) if values_file != "values.yaml" else {}
    return render(ACCOUNT_CHART, values, namespace=namespace, name="account")


def custom_resources(docs: list[Manifest]) -> list[Manifest]:
    return [d for d in docs if d["apiVersion"].startswith(f"{GROUP}/")]


@pytest.mark.parametrize("values_file", VALUES_FILES)
def test_custom_resources_match_the_crd_schemas(values_file: str) -> None:
    docs = custom_resources(rendered(values_file))
    if values_file != "values.yaml":
        assert {d["kind"] for d in docs} == set(SCHEMAS), "every kind is exercised"
    for doc in docs:
        errors = [
            f"{list(e.path)}: {e.message}" for e in OAS30Validator(SCHEMAS[doc["kind"]]).iter_errors(doc)
        ]
        assert errors == [], f"{doc['kind']} {doc['metadata']['name']}"


@pytest.mark.parametrize("version", kube_versions())
@pytest.mark.parametrize("values_file", VALUES_FILES)
def test_builtin_manifests_are_valid_kubernetes(values_file: str, version: str) -> None:
    # The Prometheus Operator's kinds have no schema here; the alert rules are checked by promtool instead.
    builtin = [d for d in rendered(values_file) if not d["apiVersion"].startswith((f"{GROUP}/", MONITORING))]
    assert [e for d in builtin if (e := validate(d, version))] == []


@pytest.mark.parametrize("values_file", VALUES_FILES)
def test_helm_lint_strict_is_clean(values_file: str) -> None:
    values = load_values(VALUES_FILES[values_file])
    for version in kube_versions():
        assert lint_findings(ACCOUNT_CHART, values, version) == []


@pytest.mark.parametrize("values_file", VALUES_FILES)
def test_references_resolve_within_the_release(values_file: str) -> None:
    docs = rendered(values_file)
    subaccounts = {d["metadata"]["name"] for d in by_kind(docs, "TwilioSubaccount")}
    ingresses = {d["metadata"]["name"]: d for d in by_kind(docs, "Ingress")}
    for kind in ("TwilioSubaccount", "ApiKey", "MessagingService"):
        names = [d["metadata"]["name"] for d in by_kind(docs, kind)]
        assert len(names) == len(set(names)), f"duplicate {kind} names"
    secrets = [d["spec"].get("secretName", d["metadata"]["name"]) for d in by_kind(docs, "ApiKey")]
    assert len(secrets) == len(set(secrets)), "two ApiKeys would fight over one Secret"
    for doc in by_kind(docs, "ApiKey") + by_kind(docs, "MessagingService"):
        assert doc["spec"]["subaccountRef"]["name"] in subaccounts
        assert doc["metadata"]["namespace"] == "shop"
        for hook in (doc["spec"].get("webhooks") or {}).values():
            ref = hook.get("ingressRef")
            if ref:
                # The operator's own resolver: the Ingress the chart renders routes every webhook path.
                ingress = ingresses.get(ref["name"])
                url = resolve(view(ingress) if ingress else None, ref["name"], ref["path"], ref.get("host"))
                assert url.secure, f"{url.url}: webhooks should be https (set webhookIngress.tlsSecretName)"


@pytest.mark.parametrize("values_file", VALUES_FILES)
def test_sync_waves_order_subaccounts_before_what_needs_them(values_file: str) -> None:
    docs = rendered(values_file)
    waves = {(d["kind"], d["metadata"]["name"]): int(d["metadata"]["annotations"][WAVE]) for d in docs}
    first = {w for (kind, _), w in waves.items() if kind in ("TwilioSubaccount", "Ingress")}
    then = {w for (kind, _), w in waves.items() if kind in ("ApiKey", "MessagingService")}
    assert not first or not then or max(first) < min(then)
    for doc in by_kind(docs, "TwilioSubaccount"):
        assert doc["metadata"]["annotations"]["argocd.argoproj.io/sync-options"] == "Prune=confirm"


def test_defaults_are_production_safe() -> None:
    values = load_values(ACCOUNT_CHART / "values.yaml")
    assert values["defaults"]["subaccount"]["deletionPolicy"] == "Orphan"
    docs = render(ACCOUNT_CHART, {"subaccounts": [{"name": "a"}]}, namespace="shop")
    assert one(docs, "TwilioSubaccount")["spec"]["deletionPolicy"] == "Orphan"


def test_production_keeps_everything_it_can() -> None:
    docs = rendered("values-prod.yaml")
    for doc in by_kind(docs, "TwilioSubaccount"):
        assert doc["spec"]["deletionPolicy"] == "Orphan"
        assert doc["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    for doc in by_kind(docs, "MessagingService"):
        assert doc["spec"]["deletionPolicy"] == "Orphan"


def test_closing_dev_subaccounts_is_announced() -> None:
    text = notes(ACCOUNT_CHART, load_values(VALUES_FILES["values-dev.yaml"]), namespace="shop-dev")
    assert "WARNING: TwilioSubaccount shop has deletionPolicy Close" in text
    assert "WARNING" not in notes(ACCOUNT_CHART, load_values(VALUES_FILES["values-prod.yaml"]))


def test_items_override_defaults_and_keep_their_metadata() -> None:
    values = {
        "defaults": {"apiKey": {"onSecretLoss": "Fail", "deletionPolicy": "Orphan"}},
        "argocd": {"enabled": False},
        "commonLabels": {"team": "shop"},
        "subaccounts": [
            {
                "name": "a",
                "externalName": "AC" + "1" * 32,
                "annotations": {"twilio.operator.dev/paused": "true"},
                "apiKeys": [{"name": "k", "deletionPolicy": "Delete", "labels": {"tier": "web"}}],
            }
        ],
    }
    docs = render(ACCOUNT_CHART, values, namespace="shop")
    subaccount = one(docs, "TwilioSubaccount")
    assert subaccount["metadata"]["annotations"] == {
        "twilio.operator.dev/paused": "true",
        "twilio.operator.dev/external-name": "AC" + "1" * 32,
    }
    assert subaccount["spec"] == {"deletionPolicy": "Orphan"}
    key = one(docs, "ApiKey")
    assert key["spec"] == {"onSecretLoss": "Fail", "deletionPolicy": "Delete", "subaccountRef": {"name": "a"}}
    assert key["metadata"]["labels"]["team"] == "shop" and key["metadata"]["labels"]["tier"] == "web"
    assert "annotations" not in key["metadata"]


def test_values_schema_knows_every_crd_field() -> None:
    schema = yaml.safe_load((ACCOUNT_CHART / "values.schema.json").read_text())
    item_schemas = {
        "TwilioSubaccount": "subaccountSpec",
        "ApiKey": "apiKeySpec",
        "MessagingService": "messagingServiceSpec",
        "EventStream": "eventStreamSpec",
        "PhoneNumber": "phoneNumberSpec",
    }
    for kind, definition in item_schemas.items():
        allowed = set(schema["definitions"][definition]["propertyNames"]["enum"])
        crd_fields = set(SCHEMAS[kind]["properties"]["spec"]["properties"]) - {"subaccountRef", "accountSid"}
        assert crd_fields <= allowed, f"values.schema.json ({definition}) misses {crd_fields - allowed}"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"subaccounts": [{"name": "a", "deletionPolicy": "Delete"}]}, "/subaccounts/0/deletionPolicy"),
        ({"subaccounts": [{"name": "a", "frendlyName": "x"}]}, "invalid propertyName 'frendlyName'"),
        ({"subaccounts": [{"friendlyName": "x"}]}, "missing property 'name'"),
        ({"subaccounts": [{"name": "Shop"}]}, "/subaccounts/0/name"),
        (
            {"subaccounts": [{"name": "a", "apiKeys": [{"name": "k", "rotation": {"every": "monthly"}}]}]},
            "/subaccounts/0/apiKeys/0/rotation/every",
        ),
        (
            {"subaccounts": [{"name": "a", "messagingServices": [{"name": "m", "validityPeriod": 0}]}]},
            "/subaccounts/0/messagingServices/0/validityPeriod",
        ),
        (
            {
                "subaccounts": [
                    {
                        "name": "a",
                        "messagingServices": [
                            {"name": "m", "webhooks": {"statusCallback": {"path": "/s", "method": "GET"}}}
                        ],
                    }
                ]
            },
            "additional properties 'method' not allowed",
        ),
        ({"webhookIngress": {"create": True}}, "/webhookIngress/host"),
    ],
)
def test_schema_rejects_bad_values_clearly(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm_python.HelmValuesError) as raised:
        render(ACCOUNT_CHART, values)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("ingress", "path", "message"),
    [
        ({}, "/twilio/status", "needs webhookIngress.create: true"),
        ({"create": True, "host": "h.example.com"}, "/elsewhere", "is not under webhookIngress.pathPrefix"),
    ],
)
def test_webhook_paths_the_ingress_cannot_route_fail_the_render(
    ingress: dict[str, Any], path: str, message: str
) -> None:
    service = {"name": "m", "webhooks": {"statusCallback": {"path": path}}}
    values = {"webhookIngress": ingress, "subaccounts": [{"name": "a", "messagingServices": [service]}]}
    with pytest.raises(helm_python.HelmRenderError) as raised:
        render(ACCOUNT_CHART, values)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("ingress", "path", "message"),
    [
        ({}, "/twilio/usage", "subaccounts a: usageCallback.path needs webhookIngress.create: true"),
        ({"create": True, "host": "h.example.com"}, "/usage", "usageCallback.path /usage is not under"),
    ],
)
def test_a_usage_callback_path_the_ingress_cannot_route_fails_the_render(
    ingress: dict[str, Any], path: str, message: str
) -> None:
    values = {"webhookIngress": ingress, "subaccounts": [{"name": "a", "usageCallback": {"path": path}}]}
    with pytest.raises(helm_python.HelmRenderError) as raised:
        render(ACCOUNT_CHART, values)
    assert message in str(raised.value)


def test_usage_alerts_and_archives_reach_the_subaccount_through_the_ingress() -> None:
    (sub,) = [d for d in rendered("values-prod.yaml") if d["kind"] == "TwilioSubaccount"]
    spec = sub["spec"]
    assert [a["name"] for a in spec["usageAlerts"]] == ["monthly-budget", "daily-volume"]
    assert spec["usageCallback"] == {"ingressRef": {"name": "twilio-webhooks", "path": "/twilio/usage"}}
    assert spec["archives"] == {
        "messages": {
            "enabled": True,
            "webhook": {"ingressRef": {"name": "twilio-webhooks", "path": "/twilio/archives"}},
        }
    }
