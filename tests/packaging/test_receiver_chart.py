"""charts/twilio-account's receiver: behind the webhook Ingress, restricted, least privilege, either store."""

from __future__ import annotations

import json
from typing import Any

import helm_python
import pytest

from tests.packaging.charts import (
    ACCOUNT_CHART,
    OPERATOR_CHART,
    Manifest,
    by_kind,
    load_values,
    notes,
    one,
    render,
)

DIGEST = "sha256:" + "ab" * 32


def env_file(name: str) -> list[Manifest]:
    return render(ACCOUNT_CHART, load_values(ACCOUNT_CHART / name), namespace="shop", name="shop")


def receiver_container(docs: list[Manifest]) -> dict[str, Any]:
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    (found,) = pod["containers"]
    return dict(found)


def env(docs: list[Manifest]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in receiver_container(docs)["env"]}


@pytest.mark.parametrize("name", ["values-dev.yaml", "values-staging.yaml", "values-prod.yaml"])
def test_every_environment_runs_the_receiver_behind_the_ingress(name: str) -> None:
    docs = env_file(name)
    service = one(docs, "Service")
    ingress = one(docs, "Ingress")
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {
        "name": service["metadata"]["name"],
        "port": {"number": service["spec"]["ports"][0]["port"]},
    }
    deployment = one(docs, "Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert all(labels[k] == v for k, v in service["spec"]["selector"].items())
    assert receiver_container(docs)["command"] == ["twilio-operator", "receiver"]
    host = ingress["spec"]["rules"][0]["host"]
    assert env(docs)["TWILIO_RECEIVER_PUBLIC_URL"] == f"https://{host}"
    # The receiver needs the subaccount's token: the environments export it.
    subaccount = one(docs, "TwilioSubaccount")
    assert subaccount["spec"]["credentialsSecretRef"]["name"]


def test_receiver_runs_restricted_with_probes_and_resources() -> None:
    docs = env_file("values-dev.yaml")
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    main = receiver_container(docs)
    assert main["securityContext"]["readOnlyRootFilesystem"] is True
    assert main["securityContext"]["allowPrivilegeEscalation"] is False
    assert main["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert main["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert main["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert main["resources"]["limits"]["memory"] and main["resources"]["requests"]["cpu"]
    mounts = {m["mountPath"]: m["name"] for m in main["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    # SQLite on the claim, one pod at a time.
    claim = one(docs, "PersistentVolumeClaim")
    assert (
        volumes[mounts["/var/lib/twilio-receiver"]]["persistentVolumeClaim"]["claimName"]
        == claim["metadata"]["name"]
    )
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert env(docs)["TWILIO_RECEIVER_DATABASE"] == "sqlite:////var/lib/twilio-receiver/receiver.db"
    assert one(docs, "Deployment")["spec"]["strategy"]["type"] == "Recreate"


def test_receiver_reads_only_what_it_needs_in_its_namespace() -> None:
    docs = env_file("values-dev.yaml")
    assert not by_kind(docs, "ClusterRole") and not by_kind(docs, "ClusterRoleBinding")
    role = one(docs, "Role")
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["list", "watch"]},
        {
            "apiGroups": ["twilio.operator.dev"],
            "resources": ["twiliosubaccounts", "messagingservices"],
            "verbs": ["list", "watch"],
        },
    ]
    binding = one(docs, "RoleBinding")
    account = one(docs, "ServiceAccount")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["metadata"]["name"], "namespace": "shop"}
    ]
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account["metadata"]["name"]


def test_production_uses_postgresql_from_a_secret_with_everything_on() -> None:
    docs = env_file("values-prod.yaml")
    deployment = one(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    assert not by_kind(docs, "PersistentVolumeClaim")
    found = env(docs)
    assert found["TWILIO_RECEIVER_DATABASE"] == {
        "secretKeyRef": {"name": "shop-receiver-database", "key": "DATABASE_URL"}
    }
    assert found["TWILIO_RECEIVER_DATABASE_PASSWORD_FILE"] == "/etc/twilio-receiver/database/password"
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["database-password"]["secret"]["items"] == [{"key": "PASSWORD", "path": "password"}]
    assert one(docs, "PrometheusRule") and one(docs, "ServiceMonitor")
    dashboard = one(docs, "ConfigMap")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    board = json.loads(dashboard["data"]["twilio-receiver.json"])
    exprs = [t["expr"] for panel in board["panels"] for t in panel["targets"]]
    assert any("twilio_receiver_messages_total" in e for e in exprs)
    policy = one(docs, "NetworkPolicy")
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    (from_ingress,) = policy["spec"]["ingress"]
    assert from_ingress["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "ingress-nginx"
    }
    egress_ports = {p["port"] for rule in policy["spec"]["egress"] for p in rule.get("ports", [])}
    assert egress_ports == {53, 5432, 443}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"receiver": {"enabled": True, "replicaCount": 2}}, "needs receiver.database.type: postgresql"),
        (
            {"receiver": {"enabled": True, "database": {"type": "postgresql"}}},
            "receiver.database.postgresql.existingSecret is required",
        ),
    ],
)
def test_impossible_receiver_settings_fail_the_render(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm_python.HelmRenderError) as raised:
        render(ACCOUNT_CHART, values)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"receiver": {"database": {"type": "mysql"}}}, "/receiver/database/type"),
        (
            {"receiver": {"image": {"repository": "r", "pullPolicy": "Always", "digest": "latest"}}},
            "/receiver/image/digest",
        ),
        ({"receiver": {"alerts": {"failureRatio": 2}}}, "/receiver/alerts/failureRatio"),
        ({"receiver": {"publicUrl": "hooks.example.com"}}, "/receiver/publicUrl"),
    ],
)
def test_schema_rejects_bad_receiver_values(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm_python.HelmValuesError) as raised:
        render(ACCOUNT_CHART, values)
    assert message in str(raised.value)


def test_image_by_digest_in_both_charts() -> None:
    docs = render(
        ACCOUNT_CHART,
        {
            "receiver": {
                "enabled": True,
                "image": {
                    "repository": "reg/twilio-operator",
                    "digest": DIGEST,
                    "pullPolicy": "IfNotPresent",
                },
            }
        },
    )
    assert receiver_container(docs)["image"] == f"reg/twilio-operator@{DIGEST}"
    docs = render(
        OPERATOR_CHART,
        {"image": {"repository": "reg/twilio-operator", "digest": DIGEST, "pullPolicy": "IfNotPresent"}},
    )
    (main,) = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert main["image"] == f"reg/twilio-operator@{DIGEST}"


def test_operator_network_policy_admits_only_metrics() -> None:
    docs = render(OPERATOR_CHART, {})
    assert not by_kind(docs, "NetworkPolicy")
    values = {
        "networkPolicy": {
            "enabled": True,
            "metrics": {"namespaceSelector": {"matchLabels": {"name": "monitoring"}}},
        }
    }
    policy = one(render(OPERATOR_CHART, values), "NetworkPolicy")
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    (rule,) = policy["spec"]["ingress"]
    assert rule["ports"] == [{"port": "metrics", "protocol": "TCP"}]
    assert rule["from"][0]["namespaceSelector"] == {"matchLabels": {"name": "monitoring"}}
    values["metrics"] = {"enabled": False}
    assert one(render(OPERATOR_CHART, values), "NetworkPolicy")["spec"]["ingress"] == []


def test_notes_say_where_the_receiver_listens() -> None:
    text = notes(ACCOUNT_CHART, load_values(ACCOUNT_CHART / "values-dev.yaml"), namespace="shop", name="shop")
    assert "https://hooks.dev.shop.example.com/twilio/status" in text
    assert "kubectl port-forward -n shop svc/shop-receiver 8080" in text
