"""charts/twilio-operator: renders, lints and validates for every example; RBAC, security and settings."""

from __future__ import annotations

import re
from typing import Any

import helm_python
import pytest
import yaml

from tests.packaging.charts import (
    OPERATOR_CHART,
    REPO_CRDS,
    ROOT,
    Manifest,
    by_kind,
    chart_crds,
    kube_versions,
    lint_findings,
    load_values,
    notes,
    one,
    render,
    validate,
)
from tests.packaging.rbac import CLUSTER, allowed, operator_grants, table
from twilio_operator.cli import parser
from twilio_operator.reconcile.registry import REGISTRY
from twilio_operator.settings import Settings

NAMESPACE = "twilio-system"
EXAMPLES = sorted((ROOT / "examples" / "helm" / "twilio-operator").glob("*.yaml"))
SID = "AC" + "0" * 32
# Values every rendering test also covers, besides the defaults and the examples.
VARIANTS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "replicas-3": {"replicaCount": 3},
    "replicas-2-namespaced": {"replicaCount": 2, "watchNamespaces": ["team-a", "team-b"]},
    "metrics-off": {"metrics": {"enabled": False}},
    "service-monitor": {
        "metrics": {"serviceMonitor": {"enabled": True, "interval": "30s", "labels": {"release": "kps"}}}
    },
    **{f"examples/{p.name}": load_values(p) for p in EXAMPLES},
}

OPERATOR = "twilio.operator.dev"
KINDS = tuple(entry.kind.plural for entry in REGISTRY)
# What the operator calls in every namespace it watches (see templates/rbac.yaml for why each).
NAMESPACED_GRANTS: dict[tuple[str, str], set[str]] = {
    **{(OPERATOR, kind): {"get", "list", "watch", "patch"} for kind in KINDS},
    **{(OPERATOR, f"{kind}/status"): {"patch"} for kind in KINDS},
    (OPERATOR, "twiliosubaccounts/finalizers"): {"update"},
    (OPERATOR, "apikeys/finalizers"): {"update"},
    # Listed and watched with the operator's managed-by label: a changed or deleted one wakes its owner.
    ("", "secrets"): {"get", "list", "watch", "create", "patch"},
    ("", "events"): {"create"},
    ("networking.k8s.io", "ingresses"): {"list", "watch"},
}
PEERING_VERBS = {"list", "watch", "patch"}
# Custom resources the chart renders (kopf's peering objects, the Prometheus Operator's ServiceMonitor):
# kubernetes-validate has schemas for built-in kinds only, so their shape is checked by the tests about them.
CUSTOM_GROUPS = ("kopf.dev/", "monitoring.coreos.com/")


def rendered(values: dict[str, Any]) -> list[Manifest]:
    return render(OPERATOR_CHART, values, namespace=NAMESPACE, name="twilio-operator")


def container(docs: list[Manifest]) -> dict[str, Any]:
    (found,) = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    return dict(found)


def env(docs: list[Manifest]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in container(docs)["env"]}


def ports(docs: list[Manifest]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in container(docs)["ports"]}


def test_there_are_example_values() -> None:
    assert EXAMPLES, "examples/helm/twilio-operator/ holds example values files"


@pytest.mark.parametrize("version", kube_versions())
@pytest.mark.parametrize("variant", VARIANTS)
def test_every_manifest_is_valid_kubernetes(variant: str, version: str) -> None:
    docs = rendered(VARIANTS[variant])
    builtin = [d for d in docs if not d["apiVersion"].startswith(CUSTOM_GROUPS)]
    assert [e for d in builtin if (e := validate(d, version))] == []


@pytest.mark.parametrize("version", kube_versions())
def test_chart_crds_are_valid_kubernetes(version: str) -> None:
    crds = [doc for text in chart_crds(OPERATOR_CHART).values() for doc in yaml.safe_load_all(text) if doc]
    assert len(crds) == len(KINDS) + 2  # and kopf's two peering CRDs
    assert [e for d in crds if (e := validate(d, version))] == []


@pytest.mark.parametrize("variant", VARIANTS)
def test_helm_lint_strict_is_clean(variant: str) -> None:
    newest, older = kube_versions()
    for version in (newest, older):
        assert lint_findings(OPERATOR_CHART, VARIANTS[variant], version) == []


def test_chart_crds_are_the_repository_crds() -> None:
    chart = chart_crds(OPERATOR_CHART)
    for path in sorted(REPO_CRDS.glob("*.yaml")):
        assert chart.get(path.name) == path.read_text(), (
            f"charts/twilio-operator/crds/{path.name} differs from crds/{path.name}; after `make crds` run:"
            " cp crds/*.yaml charts/twilio-operator/crds/"
        )
    extra = set(chart) - {p.name for p in REPO_CRDS.glob("*.yaml")}
    assert extra == {"kopf-peering.yaml"}, f"unexpected files in the chart's crds/: {extra}"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"replicaCount": 0}, "at '/replicaCount': minimum: got 0, want 1"),
        ({"logLevel": "verbose"}, "at '/logLevel': value must be one of"),
        ({"logFormat": "xml"}, "at '/logFormat'"),
        ({"driftInterval": 0}, "at '/driftInterval'"),
        ({"driftJitter": 0.9}, "at '/driftJitter'"),
        ({"accountConcurrency": 0}, "at '/accountConcurrency'"),
        ({"watchNamespaces": ["Team_A"]}, "at '/watchNamespaces/0'"),
        ({"credentials": {"existingSecret": ""}}, "at '/credentials/accountSid'"),
        (
            {"credentials": {"existingSecret": "", "accountSid": "ACnot-a-sid", "authToken": "x"}},
            "at '/credentials/accountSid': 'ACnot-a-sid' does not match pattern",
        ),
        ({"credentials": {"accountSid": SID}}, "at '/credentials/accountSid': value must be ''"),
        ({"image": {"pullPolicy": "Sometimes"}}, "at '/image/pullPolicy'"),
        ({"liveness": {"port": 80}}, "at '/liveness/port'"),
        ({"securityContext": {"allowPrivilegeEscalation": True}}, "allowPrivilegeEscalation"),
        ({"podSecurityContext": {"runAsNonRoot": False}}, "at '/podSecurityContext/runAsNonRoot'"),
        ({"replicas": 2}, "additional properties 'replicas' not allowed"),
        ({"apiBaseUrl": "twilio.local"}, "at '/apiBaseUrl'"),
        ({"metrics": {"port": 80}}, "at '/metrics/port': minimum: got 80, want 1,024"),
        ({"metrics": {"port": 70000}}, "at '/metrics/port': maximum: got 70,000, want 65,535"),
        ({"metrics": {"port": "8081"}}, "at '/metrics/port': got string, want integer"),
        ({"metrics": {"enabled": "yes"}}, "at '/metrics/enabled': got string, want boolean"),
        ({"metrics": {"path": "/m"}}, "at '/metrics': additional properties 'path' not allowed"),
        (
            {"metrics": {"enabled": False, "serviceMonitor": {"enabled": True}}},
            "at '/metrics/serviceMonitor/enabled': value must be false",
        ),
        (
            {"metrics": {"serviceMonitor": {"interval": "30 seconds"}}},
            "at '/metrics/serviceMonitor/interval'",
        ),
        (
            {"metrics": {"serviceMonitor": {"labels": {"release": 1}}}},
            "at '/metrics/serviceMonitor/labels/release'",
        ),
    ],
)
def test_schema_rejects_bad_values_clearly(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm_python.HelmValuesError) as raised:
        rendered(values)
    assert message in str(raised.value)


def test_deployment_runs_restricted() -> None:
    docs = rendered({})
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    security = container(docs)["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    # The one writable place, for Python and the libraries: /tmp.
    mounts = {m["mountPath"]: m["name"] for m in container(docs)["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert container(docs)["resources"]["limits"]["memory"]


def test_probes_use_the_liveness_endpoint() -> None:
    docs = rendered({"liveness": {"port": 9090, "path": "/live"}})
    main = container(docs)
    assert "--liveness=http://0.0.0.0:9090/live" in main["args"]
    assert ports(docs)["health"] == {"name": "health", "containerPort": 9090, "protocol": "TCP"}
    for probe in ("livenessProbe", "readinessProbe"):
        assert main[probe]["httpGet"] == {"path": "/live", "port": "health"}


def test_metrics_port_and_service() -> None:
    docs = rendered({"metrics": {"port": 9100}})
    assert ports(docs)["metrics"] == {"name": "metrics", "containerPort": 9100, "protocol": "TCP"}
    # The operator's own parser reads the arguments as the image's entrypoint would.
    args = parser().parse_args(["run", *container(docs)["args"]])
    assert args.metrics_port == 9100 and args.metrics_address is None
    service = one(docs, "Service")
    assert service["metadata"]["name"] == "twilio-operator-metrics"
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": 9100, "targetPort": "metrics", "protocol": "TCP"}
    ]
    assert service["spec"]["selector"] == one(docs, "Deployment")["spec"]["selector"]["matchLabels"]
    assert not by_kind(docs, "ServiceMonitor"), "a ServiceMonitor only when asked for: it needs its CRDs"
    assert "port-forward service/twilio-operator-metrics 9100" in notes(
        OPERATOR_CHART, {"metrics": {"port": 9100}}, namespace=NAMESPACE, name="twilio-operator"
    )


def test_metrics_off() -> None:
    docs = rendered({"metrics": {"enabled": False}})
    assert "metrics" not in ports(docs)
    assert not [a for a in container(docs)["args"] if a.startswith("--metrics")]
    assert parser().parse_args(["run", *container(docs)["args"]]).metrics_port is None
    assert not by_kind(docs, "Service") and not by_kind(docs, "ServiceMonitor")
    assert "/metrics" not in notes(OPERATOR_CHART, {"metrics": {"enabled": False}})


def test_service_monitor_scrapes_the_metrics_service() -> None:
    values = {
        "metrics": {"serviceMonitor": {"enabled": True, "interval": "30s", "labels": {"release": "kps"}}}
    }
    docs = rendered(values)
    monitor, service = one(docs, "ServiceMonitor"), one(docs, "Service")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["namespace"] == service["metadata"]["namespace"] == NAMESPACE
    assert monitor["metadata"]["labels"]["release"] == "kps"
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    # Only the metrics Service: the selector names its component, which the pods' labels don't carry.
    pod_labels = one(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert not selector.items() <= pod_labels.items()
    assert monitor["spec"]["endpoints"] == [{"port": "metrics", "path": "/metrics", "interval": "30s"}]
    assert "the ServiceMonitor twilio-operator" in notes(OPERATOR_CHART, values, name="twilio-operator")


def test_metrics_and_liveness_ports_must_differ() -> None:
    with pytest.raises(helm_python.HelmRenderError, match=r"metrics\.port and liveness\.port are both 8080"):
        rendered({"metrics": {"port": 8080}})
    assert rendered({"metrics": {"enabled": False, "port": 8080}})


def test_settings_reach_the_operator() -> None:
    values = {
        "logLevel": "DEBUG",
        "logFormat": "plain",
        "driftInterval": 120,
        "driftJitter": 0.2,
        "requestTimeout": 5,
        "accountConcurrency": 4,
        "rateLimit": 25,
        "allowParentAccount": True,
        "allowRawAccountSid": True,
        "adoptionNamespaces": ["platform", "shop-dev"],
        "apiBaseUrl": "http://emulator:8081",
        "extraEnv": [{"name": "EXTRA", "value": "1"}],
    }
    variables = env(rendered(values))
    assert variables["TWILIO_OPERATOR_LOG_LEVEL"] == "DEBUG"
    assert variables["TWILIO_OPERATOR_DRIFT_INTERVAL"] == "120"
    assert variables["TWILIO_OPERATOR_ALLOW_PARENT_ACCOUNT"] == "true"
    assert variables["TWILIO_API_BASE_URL"] == "http://emulator:8081"
    assert variables["EXTRA"] == "1"
    # The operator reads every variable the chart sets: parse them with the operator's own Settings.
    ours = {k: v for k, v in variables.items() if k.startswith("TWILIO_")}
    settings = Settings.model_validate(
        {k.removeprefix("TWILIO_OPERATOR_").lower(): v for k, v in ours.items() if "OPERATOR" in k}
    )
    assert (settings.log_level, settings.drift_interval, settings.rate_limit) == ("DEBUG", 120.0, 25.0)
    assert settings.allow_parent_account and settings.allow_raw_account_sid
    assert settings.may_adopt("shop-dev") and not settings.may_adopt("shop-prod")
    known = {f"TWILIO_OPERATOR_{name.upper()}" for name in Settings.model_fields}
    known |= {"TWILIO_ACCOUNT_SID_FILE", "TWILIO_AUTH_TOKEN_FILE", "TWILIO_API_BASE_URL"}
    assert set(ours) <= known, f"the operator ignores {set(ours) - known}"


def test_credentials_come_from_files_of_the_existing_secret() -> None:
    docs = rendered({"credentials": {"existingSecret": "parent", "accountSidKey": "sid"}})
    assert not by_kind(docs, "Secret"), "the chart creates no Secret when one is named"
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    volume = next(v for v in pod["volumes"] if v["name"] == "credentials")
    assert volume["secret"]["secretName"] == "parent"
    mount = next(m for m in container(docs)["volumeMounts"] if m["name"] == "credentials")
    assert env(docs)["TWILIO_ACCOUNT_SID_FILE"] == f"{mount['mountPath']}/sid"
    assert env(docs)["TWILIO_AUTH_TOKEN_FILE"] == f"{mount['mountPath']}/TWILIO_AUTH_TOKEN"
    assert "TWILIO_AUTH_TOKEN" not in env(docs), "credentials never go into plain environment variables"


def test_credentials_secret_created_from_values() -> None:
    docs = rendered({"credentials": {"existingSecret": "", "accountSid": SID, "authToken": "token"}})
    secret = one(docs, "Secret")
    assert secret["stringData"] == {"TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": "token"}
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    volume = next(v for v in pod["volumes"] if v["name"] == "credentials")
    assert volume["secret"]["secretName"] == secret["metadata"]["name"]


def test_rbac_all_namespaces() -> None:
    grants = operator_grants(rendered({}))
    expected = {(CLUSTER, *key): verbs for key, verbs in NAMESPACED_GRANTS.items()}
    expected[(CLUSTER, "apiextensions.k8s.io", "customresourcedefinitions")] = {"list", "watch"}
    assert table(grants) == expected
    assert allowed(grants, "patch", OPERATOR, "apikeys/status", "any-namespace")
    assert not allowed(grants, "delete", "", "secrets", "any-namespace")
    assert not allowed(grants, "update", "", "secrets", "any-namespace")


def test_rbac_listed_namespaces_stays_in_them() -> None:
    grants = operator_grants(rendered({"watchNamespaces": ["team-a", "team-b"]}))
    expected = {(ns, *key): verbs for ns in ("team-a", "team-b") for key, verbs in NAMESPACED_GRANTS.items()}
    # Cluster-wide only what kopf needs to follow CRDs and to check that the namespaces exist.
    expected[(CLUSTER, "apiextensions.k8s.io", "customresourcedefinitions")] = {"list", "watch"}
    expected[(CLUSTER, "", "namespaces")] = {"list", "watch"}
    assert table(grants) == expected
    assert allowed(grants, "get", "", "secrets", "team-a")
    assert not allowed(grants, "get", "", "secrets", "team-c")


def test_rbac_off() -> None:
    docs = rendered({"rbac": {"create": False}})
    assert not [d for d in docs if d["apiVersion"].startswith("rbac.")]


def test_single_replica_runs_standalone() -> None:
    docs = rendered({})
    assert not by_kind(docs, "PodDisruptionBudget")
    assert not [a for a in container(docs)["args"] if a.startswith("--peering")]
    assert one(docs, "Deployment")["spec"]["strategy"] == {"type": "Recreate"}


def test_replicas_run_kopf_peering_cluster_wide() -> None:
    docs = rendered({"replicaCount": 3, "peering": {"name": "twilio"}})
    assert "--peering=twilio" in container(docs)["args"]
    assert one(docs, "ClusterKopfPeering")["metadata"]["name"] == "twilio"
    pdb = one(docs, "PodDisruptionBudget")
    selector = one(docs, "Deployment")["spec"]["selector"]["matchLabels"]
    assert pdb["spec"]["selector"]["matchLabels"] == selector
    assert table(operator_grants(docs))[(CLUSTER, "kopf.dev", "clusterkopfpeerings")] == PEERING_VERBS
    assert {e["name"]: e for e in container(docs)["env"]}["POD_ID"]["valueFrom"] == {
        "fieldRef": {"fieldPath": "metadata.name"}
    }
    assert env(docs)["TWILIO_OPERATOR_PEERING_LIFETIME"] == "60"
    assert (
        env(rendered({"replicaCount": 2, "peering": {"lifetime": 15}}))["TWILIO_OPERATOR_PEERING_LIFETIME"]
        == "15"
    )
    assert "TWILIO_OPERATOR_PEERING_LIFETIME" not in env(rendered({})), "a single replica runs no peering"


def test_replicas_run_kopf_peering_per_namespace() -> None:
    docs = rendered({"replicaCount": 2, "watchNamespaces": ["team-a", "team-b"]})
    peerings = by_kind(docs, "KopfPeering")
    assert sorted(p["metadata"]["namespace"] for p in peerings) == ["team-a", "team-b"]
    grants = table(operator_grants(docs))
    assert grants[("team-a", "kopf.dev", "kopfpeerings")] == PEERING_VERBS
    assert (CLUSTER, "kopf.dev", "clusterkopfpeerings") not in grants
    assert "the highest one reconciles" in notes(OPERATOR_CHART, {"replicaCount": 2})


def test_argocd_health_checks_snippet() -> None:
    assert not by_kind(rendered({}), "ConfigMap")
    docs = rendered({"argocd": {"healthChecks": {"enabled": True, "namespace": "argocd"}}})
    config = one(docs, "ConfigMap")
    assert config["metadata"]["namespace"] == "argocd"
    script = (ROOT / "argocd" / "health.lua").read_text()
    assert (OPERATOR_CHART / "files" / "argocd" / "health.lua").read_text() == script, (
        "charts/twilio-operator/files/argocd/health.lua is stale: cp argocd/health.lua to it"
    )
    assert config["data"] == {
        f"resource.customizations.health.{OPERATOR}_{kind}": script
        for kind in (entry.kind.kind for entry in REGISTRY)
    }


def test_notes_say_what_to_do_next() -> None:
    text = notes(OPERATOR_CHART, {}, namespace=NAMESPACE, name="twilio-operator")
    assert "kubectl -n twilio-system create secret generic twilio-operator-credentials" in text
    assert "rollout status deployment/twilio-operator" in text
    text = notes(OPERATOR_CHART, {"argocd": {"healthChecks": {"enabled": True}}})
    assert "patch configmap argocd-cm" in text


def test_image_tag_defaults_to_the_app_version() -> None:
    chart = (OPERATOR_CHART / "Chart.yaml").read_text()
    app_version = re.search(r'appVersion: "([^"]+)"', chart)
    assert app_version
    assert container(rendered({}))["image"] == f"twilio-operator:{app_version.group(1)}"
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert f'version = "{app_version.group(1)}"' in pyproject, "appVersion follows pyproject.toml"


def test_user_roles_extend_view_edit_and_admin_to_the_kinds() -> None:
    roles = {d["metadata"]["name"]: d for d in by_kind(rendered({}), "ClusterRole")}
    aggregated = {
        name.removeprefix("twilio-operator-"): {
            label.rsplit("-", 1)[1] for label in role["metadata"]["labels"] if "aggregate-to-" in label
        }
        for name, role in roles.items()
        if name != "twilio-operator"
    }
    # Each carries the labels of the roles above it, as Kubernetes' own system:aggregate-to-* roles do.
    assert aggregated == {"view": {"view", "edit", "admin"}, "edit": {"edit", "admin"}, "admin": {"admin"}}

    def writes(role: str) -> set[str]:
        return {
            r
            for rule in roles[f"twilio-operator-{role}"]["rules"]
            if "create" in rule["verbs"]
            for r in rule["resources"]
        }

    kinds = {entry.kind.plural for entry in REGISTRY}
    assert writes("edit") == kinds - {"twiliosubaccounts"}, "edit writes the kinds inside a subaccount"
    assert writes("admin") == {"twiliosubaccounts"}, "only admin (with edit's) writes subaccounts"
    (view,) = roles["twilio-operator-view"]["rules"]
    assert set(view["verbs"]) == {"get", "list", "watch"}
    assert set(view["resources"]) == kinds | {f"{k}/status" for k in kinds}
    assert not by_kind(rendered({"rbac": {"aggregateToUserRoles": False}}), "ClusterRole")[1:]
