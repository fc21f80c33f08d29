"""scripts/smoke.sh, the kubectl-only smoke test of an installation, run against the sandbox."""

from __future__ import annotations

import base64
import os
import re
import subprocess
from pathlib import Path

from tests.e2e import helpers
from tests.support.twilio_side import TwilioSide
from twilio_operator.sandbox.kubectl import Kubectl
from twilio_operator.sandbox.processes import BIN, OperatorProcess, SandboxProcess

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "smoke.sh"
SECRET = "smoke-twilio"


def smoke(sandbox: SandboxProcess, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The script as a user runs it: kubectl from PATH, the cluster from KUBECONFIG."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("SMOKE_", "KUBE", "TWILIO"))}
    full_env = {
        **inherited,
        "PATH": f"{BIN}{os.pathsep}{inherited.get('PATH', '')}",
        "KUBECONFIG": str(sandbox.kubeconfig),
        "KUBECACHEDIR": str(tmp_path / "kubectl-cache"),
        **env,
    }
    return subprocess.run(
        [str(SCRIPT)], env=full_env, capture_output=True, text=True, timeout=600, check=False
    )


def namespace_of(result: subprocess.CompletedProcess[str]) -> str:
    match = re.search(r"^smoke: context \S+, namespace (\S+),", result.stdout, re.MULTILINE)
    assert match, result.stdout + result.stderr
    return match.group(1)


def gone(kubectl: Kubectl, namespace: str) -> bool:
    result = kubectl.run("get", "namespace", namespace, check=False)
    return result.returncode != 0 and "NotFound" in result.stderr


def test_passes_and_leaves_nothing_in_the_cluster_or_open_in_twilio(
    sandbox: SandboxProcess, operator: OperatorProcess, kubectl: Kubectl, twilio: TwilioSide, tmp_path: Path
) -> None:
    result = smoke(sandbox, tmp_path, SMOKE_TIMEOUT="60s")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    last = result.stdout.strip().splitlines()[-1]
    match = re.fullmatch(
        r"PASS: twilio-operator smoke test \(subaccount (AC\w{32}), key (SK\w{32}), service (MG\w{32})\)",
        last,
    )
    assert match, output
    account, key, service = match.groups()
    assert gone(kubectl, namespace_of(result)), output
    # The default deletionPolicy is Close: nothing the smoke test made goes on existing in Twilio.
    state = twilio.state()
    assert next(a for a in state["accounts"] if a["sid"] == account)["status"] == "closed"
    assert key not in {k["sid"] for k in state["keys"]}
    assert service not in {s["sid"] for s in state["services"]}


def test_never_prints_the_key_secret_and_keeps_everything_when_asked(
    sandbox: SandboxProcess, operator: OperatorProcess, kubectl: Kubectl, namespace: str, tmp_path: Path
) -> None:
    # An existing namespace (as where the operator watches only listed ones): used, and never deleted.
    result = smoke(sandbox, tmp_path, SMOKE_NAMESPACE=namespace, SMOKE_KEEP="1", SMOKE_TIMEOUT="60s")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert result.stdout.strip().splitlines()[-1].startswith("PASS: "), output
    assert f"using existing namespace {namespace}" in output
    data = helpers.secret_data(kubectl, SECRET, namespace)
    assert data and set(data) == {"TWILIO_ACCOUNT_SID", "TWILIO_API_KEY", "TWILIO_API_SECRET"}, output
    secret = data["TWILIO_API_SECRET"]
    # The SIDs are no secret and are printed; the API secret, in any form, never is.
    assert data["TWILIO_API_KEY"] in output
    assert secret not in output
    assert base64.b64encode(secret.encode()).decode() not in output
    for kind in ("twiliosubaccount", "apikey", "messagingservice"):
        assert helpers.conditions(kubectl.get(kind, "smoke", namespace))["Ready"]["status"] == "True"
    kubectl.run("delete", "namespace", namespace, "--wait=true", "--timeout=60s")


def test_fails_with_a_hint_and_cleans_up_when_the_operator_is_down(
    sandbox: SandboxProcess, operator: OperatorProcess, kubectl: Kubectl, tmp_path: Path
) -> None:
    operator.stop()
    try:
        result = smoke(sandbox, tmp_path, SMOKE_TIMEOUT="5s")
    finally:
        operator.start()
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert result.stdout.strip().splitlines()[-1] == (
        "FAIL: twiliosubaccounts.twilio.operator.dev/smoke was not Ready within 5s"
    ), output
    assert "has no status: is the operator running" in output
    assert "deleting messagingservices.twilio.operator.dev/smoke" in output
    assert gone(kubectl, namespace_of(result)), output
