"""`twilio-operator tree` and `kubectl twilio`: the architecture drawn from the live objects, and the actions.

Drawn for the ISV example and the account chart's development values once they are Ready; the drawing must
hold every object, under its subaccount, with the SID its status says.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import yaml

from tests.e2e import helpers
from tests.packaging.charts import ACCOUNT_CHART, load_values, render
from twilio_operator.sandbox.kubectl import Kubectl
from twilio_operator.sandbox.processes import BIN, OperatorProcess, SandboxProcess, wait_for

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FIGURES = Path(__file__).resolve().parents[2] / "docs"


def run(sandbox: SandboxProcess, program: str, *args: str) -> str:
    # kubectl finds its plugins (kubectl-twilio) on PATH.
    path = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {**os.environ, "KUBECONFIG": str(sandbox.kubeconfig), "KUBECTL": str(BIN / "kubectl"), "PATH": path}
    done = subprocess.run([str(BIN / program), *args], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def all_ready(kubectl: Kubectl, namespace: str) -> list[dict[str, Any]]:
    def check() -> list[dict[str, Any]] | None:
        items: list[dict[str, Any]] = json.loads(
            kubectl.run("get", "twilio", "-n", namespace, "-o", "json").stdout
        )["items"]
        settled = all(helpers.conditions(o).get("Ready", {}).get("status") == "True" for o in items)
        return items if items and settled else None

    return wait_for(check, 60, interval=0.5, what=f"every object in {namespace} Ready")


def assert_drawn(drawing: str, items: list[dict[str, Any]]) -> None:
    """Each object appears once, with its SID, and every key and service after (below) its subaccount."""
    lines = drawing.splitlines()
    for obj in items:
        meta = obj["metadata"]
        label = f"{obj['kind']} {meta['namespace']}/{meta['name']}"
        (found,) = [i for i, line in enumerate(lines) if label + "  " in line or line.endswith(label)]
        assert obj["status"]["sid"] in lines[found]
        ref = (obj["spec"].get("subaccountRef") or {}).get("name")
        if ref:
            parent = f"TwilioSubaccount {meta['namespace']}/{ref}"
            above = [i for i, line in enumerate(lines) if parent in line]
            assert above and above[0] < found, f"{label} is not under {parent}"
            assert lines[found].startswith(("   ├─", "   └─", "│  ├─", "│  └─")), lines[found]


def test_the_isv_example_drawn_three_ways(
    kubectl: Kubectl, sandbox: SandboxProcess, operator: OperatorProcess
) -> None:
    kubectl.run("apply", "-f", str(EXAMPLES / "isv"))
    items = all_ready(kubectl, "sms-platform")
    drawing = run(sandbox, "twilio-operator", "tree", "-n", "sms-platform")
    assert_drawn(drawing, items)
    parents = {o["status"]["ownerAccountSid"] for o in items if o["kind"] == "TwilioSubaccount"}
    assert drawing.splitlines()[0].startswith(f"parent account {parents.pop()}")
    # The same through kubectl's plugin mechanism, and as Mermaid: a node per object, an edge per parent.
    plugin = run(sandbox, "kubectl", "twilio", "tree", "-n", "sms-platform")
    assert plugin == drawing
    chart = run(sandbox, "twilio-operator", "tree", "-n", "sms-platform", "-o", "mermaid")
    assert chart.startswith("flowchart LR")
    assert chart.count(" --> ") == len(items)
    # The SVG is well-formed and names every object; it is the README's figure (docs/architecture.svg).
    picture = run(sandbox, "twilio-operator", "tree", "-n", "sms-platform", "-o", "svg")
    root = ElementTree.fromstring(picture)
    texts = {"".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")}
    for obj in items:
        assert f"{obj['kind']} sms-platform/{obj['metadata']['name']}" in texts
    committed = ElementTree.fromstring((FIGURES / "architecture.svg").read_text())
    labels = {"".join(t.itertext()) for t in committed.iter("{http://www.w3.org/2000/svg}text")}
    assert {t for t in texts if " sms-platform/" in t} <= labels, "docs/architecture.svg is out of date"


def test_the_development_values_drawn(
    kubectl: Kubectl, namespace: str, sandbox: SandboxProcess, operator: OperatorProcess
) -> None:
    docs = render(ACCOUNT_CHART, load_values(ACCOUNT_CHART / "values-dev.yaml"), namespace=namespace)
    # The tree draws the operator's objects; the receiver's workload is not the sandbox's to run.
    drawn = [d for d in docs if d["apiVersion"].startswith("twilio.operator.dev/") or d["kind"] == "Ingress"]
    kubectl.run("apply", "-f", "-", input=yaml.safe_dump_all(drawn))
    items = all_ready(kubectl, namespace)
    assert_drawn(run(sandbox, "twilio-operator", "tree", "-n", namespace), items)


def test_the_plugin_acts_through_the_annotations(
    kubectl: Kubectl, namespace: str, sandbox: SandboxProcess, operator: OperatorProcess
) -> None:
    kubectl.apply(helpers.manifest("TwilioSubaccount", "sub"), namespace)
    kubectl.apply(helpers.manifest("ApiKey", "app", subaccountRef={"name": "sub"}), namespace)
    first = helpers.ready(kubectl, "apikey", "app", namespace)["status"]["sid"]
    run(sandbox, "kubectl", "twilio", "rotate", "apikey/app", "-n", namespace)
    wait_for(
        lambda: helpers.ready(kubectl, "apikey", "app", namespace)["status"]["sid"] != first,
        30,
        what="a new key",
    )
    run(sandbox, "kubectl", "twilio", "pause", "apikey/app", "-n", namespace)
    helpers.reason(kubectl, "apikey", "app", namespace, "Synced", "ReconcilePaused")
    run(sandbox, "kubectl", "twilio", "resume", "apikey/app", "-n", namespace)
    helpers.ready(kubectl, "apikey", "app", namespace)
    run(sandbox, "kubectl", "twilio", "sync", "twiliosubaccount/sub", "-n", namespace)
    wait_for(
        lambda: (kubectl.get("twiliosubaccount", "sub", namespace) or {})["status"].get(
            "lastHandledReconcileAt"
        ),
        30,
        what="the requested sync handled",
    )
