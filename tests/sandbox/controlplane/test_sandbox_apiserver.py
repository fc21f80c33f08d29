"""`twilio-operator sandbox --kube apiserver` as a user runs it: the real control plane, the project's CRDs,
the same kubeconfig and twilio.env as with the emulator, and the audit log."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from twilio_operator.sandbox.controlplane import audit, binaries
from twilio_operator.sandbox.controlplane.errors import ControlPlaneUnavailable
from twilio_operator.sandbox.kubectl import Kubectl
from twilio_operator.sandbox.processes import SandboxProcess


@pytest.fixture
def built() -> Path:
    try:
        return binaries.find()
    except ControlPlaneUnavailable as error:
        pytest.skip(f"real API server: {error}")


def test_sandbox_on_the_real_api_server(built: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    sandbox = SandboxProcess(state, kube="apiserver")
    try:
        sandbox.start()
        assert sandbox.kube_url.startswith("https://127.0.0.1:")
        assert set(sandbox.env) >= {
            "TWILIO_ACCOUNT_SID",
            "TWILIO_AUTH_TOKEN",
            "TWILIO_API_BASE_URL",
            "KUBECONFIG",
        }
        assert oct(sandbox.kubeconfig.stat().st_mode & 0o777) == "0o600"
        kubectl = Kubectl(sandbox.kubeconfig, tmp_path / "cache")
        crds = json.loads(kubectl.run("get", "crds", "-o", "json").stdout)["items"]
        names = {c["metadata"]["name"] for c in crds}
        assert {"twiliosubaccounts.twilio.operator.dev", "apikeys.twilio.operator.dev"} <= names
        assert kubectl.run("get", "twilio", "-A").returncode == 0
        whoami = json.loads(kubectl.run("auth", "whoami", "-o", "json").stdout)
        assert "system:masters" in whoami["status"]["userInfo"]["groups"]
        logged = audit.requests(state / "controlplane" / "audit.log", path_prefix="/apis/twilio.operator.dev")
        assert any(entry["user"] == "sandbox-admin" for entry in logged)
    finally:
        sandbox.stop()
    # Nothing of the control plane outlives the sandbox.
    assert sandbox.proc is not None
    with pytest.raises(ProcessLookupError):
        os.killpg(sandbox.proc.pid, 0)
