"""The manifests in examples/ work as shipped: applied with kubectl, everything becomes Ready."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e import helpers
from twilio_operator.sandbox.kubectl import Kubectl
from twilio_operator.sandbox.processes import OperatorProcess, wait_for

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize("example", ["quickstart", "direct-customer", "isv"])
def test_example_reaches_ready(kubectl: Kubectl, operator: OperatorProcess, example: str) -> None:
    kubectl.run("apply", "-f", str(EXAMPLES / example))

    def settled() -> list[str] | None:
        items = json.loads(kubectl.run("get", "twilio", "-A", "-o", "json").stdout)["items"]
        mine = [o for o in items if o["metadata"]["namespace"] in namespaces]
        pending = [
            o["metadata"]["name"]
            for o in mine
            if helpers.conditions(o).get("Ready", {}).get("status") != "True"
            or helpers.conditions(o).get("Synced", {}).get("status") != "True"
        ]
        return None if pending or not mine else [o["metadata"]["name"] for o in mine]

    namespaces = {
        doc.split("name:", 1)[1].split()[0]
        for path in (EXAMPLES / example).glob("*.yaml")
        for doc in path.read_text().split("---")
        if "kind: Namespace" in doc
    }
    wait_for(settled, 60, interval=0.5, what=f"every object of examples/{example} Ready")
