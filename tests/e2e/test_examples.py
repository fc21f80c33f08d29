"""The manifests in examples/ work as shipped: applied with kubectl, everything becomes Ready."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e import helpers
from tests.support.twilio_side import TwilioSide
from twilio_operator.sandbox.kubectl import Kubectl
from twilio_operator.sandbox.processes import OperatorProcess, wait_for

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


# Numbers the examples' PhoneNumbers move from the parent account: bought there first, as a person would have.
NUMBERS = {"quickstart": ["+14155550100"]}


def seed_parent_numbers(twilio: TwilioSide, numbers: list[str]) -> None:
    parent = twilio.client().api.v2010.accounts(twilio.parent_sid).incoming_phone_numbers
    held = {n["phone_number"] for n in twilio.state()["incoming_phone_numbers"]}
    for number in numbers:
        if number not in held:
            parent.create(phone_number=number)


@pytest.mark.parametrize("example", ["quickstart", "direct-customer", "isv"])
def test_example_reaches_ready(
    kubectl: Kubectl, twilio: TwilioSide, operator: OperatorProcess, example: str
) -> None:
    seed_parent_numbers(twilio, NUMBERS.get(example, []))
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
