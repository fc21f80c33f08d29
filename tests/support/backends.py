"""The Kubernetes API server a suite runs against: the emulator, and the real control plane (kube-apiserver,
etcd, kube-controller-manager built by scripts/controlplane.sh) when it is built. The Twilio side is always
the emulator.

Every test that uses a sandbox (through `kube_backend`) runs once per backend; a conftest opts in with

    from tests.support.backends import kube_backend, pytest_generate_tests, sandbox  # noqa: F401

A test that needs what only the emulator has is marked `@pytest.mark.emulator_only("why")` and runs there
alone; one that needs what only the real API server has (RBAC, users) `@pytest.mark.apiserver_only("why")`.

On the real API server the operator is not the admin: `operator_identity` applies the ServiceAccount and
RBAC the operator chart renders and gives the operator a token of that ServiceAccount, so the real
authorizer judges every call it makes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.packaging.charts import OPERATOR_CHART, render
from twilio_operator.sandbox.controlplane.binaries import find as find_control_plane
from twilio_operator.sandbox.controlplane.errors import ControlPlaneUnavailable
from twilio_operator.sandbox.kubectl import Kubectl
from twilio_operator.sandbox.processes import SandboxProcess

BACKENDS = ("emulator", "apiserver")
RELEASE = "twilio-operator"
RELEASE_NAMESPACE = "twilio-system"
RBAC_KINDS = {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}
# Longer than any run: a bound token expires, and renewal is the credentials test's subject, not this one's.
TOKEN_LIFETIME = "48h"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "kube_backend" not in metafunc.fixturenames:
        return
    backends = list(BACKENDS)
    for marker in ("emulator_only", "apiserver_only"):
        only = metafunc.definition.get_closest_marker(marker)
        if only is not None and not only.args:
            raise pytest.UsageError(f"{metafunc.definition.nodeid}: {marker} needs a reason")
        if only is not None:
            backends = [marker.removesuffix("_only")]
    metafunc.parametrize("kube_backend", backends, indirect=True, scope="session")


def unavailable() -> str | None:
    """Why the real control plane cannot run here, or None."""
    try:
        find_control_plane()
    except ControlPlaneUnavailable as error:
        return str(error)
    return None


@pytest.fixture(scope="session")
def kube_backend(request: pytest.FixtureRequest) -> str:
    backend: str = getattr(request, "param", "emulator")
    if backend == "apiserver" and (why := unavailable()):
        pytest.skip(f"real API server: {why}")
    return backend


def start_sandbox(directory: Path, backend: str) -> SandboxProcess:
    sandbox = SandboxProcess(directory, kube=backend)
    sandbox.start()
    return sandbox


@pytest.fixture(scope="session")
def sandbox(kube_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    """The suite's shared sandbox on this backend."""
    process = start_sandbox(tmp_path_factory.mktemp(f"sandbox-{kube_backend}"), kube_backend)
    yield process
    process.stop()


def chart_rbac(values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The ServiceAccount, roles and bindings the operator chart renders with `values`."""
    docs = render(OPERATOR_CHART, values or {}, namespace=RELEASE_NAMESPACE, name=RELEASE)
    return [d for d in docs if d["kind"] in RBAC_KINDS]


def service_account(docs: list[dict[str, Any]]) -> str:
    (account,) = [d["metadata"]["name"] for d in docs if d["kind"] == "ServiceAccount"]
    return str(account)


def operator_identity(
    sandbox: SandboxProcess, kubectl: Kubectl, directory: Path, values: dict[str, Any] | None = None
) -> dict[str, str]:
    """The environment that makes `twilio-operator run` the chart's ServiceAccount on the real API server
    (its KUBECONFIG), after applying what the chart renders for it; on the emulator, nothing (the admin)."""
    if sandbox.kube != "apiserver":
        return {}
    docs = chart_rbac(values)
    install_rbac(kubectl, docs)
    token = kubectl.run(
        "create", "token", service_account(docs), "-n", RELEASE_NAMESPACE, f"--duration={TOKEN_LIFETIME}"
    ).stdout.strip()
    directory.mkdir(parents=True, exist_ok=True)
    return {"KUBECONFIG": str(kubeconfig_with_token(sandbox, directory / "operator.kubeconfig", token))}


def install_rbac(kubectl: Kubectl, docs: list[dict[str, Any]]) -> None:
    """Apply rendered RBAC and the namespaces it lives in; a rule left out of `docs` is gone afterwards."""
    namespaces = {RELEASE_NAMESPACE} | {
        d["metadata"]["namespace"] for d in docs if d["kind"] in ("Role", "RoleBinding")
    }
    manifests = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in sorted(namespaces)
    ]
    for doc in docs:
        placed = dict(doc)
        if doc["kind"] == "ServiceAccount":
            placed["metadata"] = {**doc["metadata"], "namespace": RELEASE_NAMESPACE}
        manifests.append(placed)
    kubectl.run("apply", "--server-side", "--force-conflicts", "-f", "-", input=yaml.safe_dump_all(manifests))


def kubeconfig_with_token(sandbox: SandboxProcess, path: Path, token: str) -> Path:
    """The sandbox's kubeconfig (server, CA) with another identity."""
    config = yaml.safe_load(sandbox.kubeconfig.read_text())
    config["users"][0]["user"] = {"token": token}
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


def whoami(kubectl: Kubectl) -> dict[str, Any]:
    """`kubectl auth whoami`: the user the API server authenticated."""
    info: dict[str, Any] = json.loads(kubectl.run("auth", "whoami", "-o", "json").stdout)["status"][
        "userInfo"
    ]
    return info


def audit_users(sandbox: SandboxProcess, user_agent: str) -> set[str]:
    """Who kube-apiserver's audit log says sent requests with this user agent."""
    from twilio_operator.sandbox.controlplane import audit

    log = sandbox.state_dir / "controlplane" / "audit.log"
    return {str(e["user"]) for e in audit.requests(log) if user_agent in (e.get("user_agent") or "")}
