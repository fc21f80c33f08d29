"""Every custom resource in examples/ is valid against the generated CRD schemas."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_schema_validator import OAS30Validator

from twilio_operator.api.crd import all_crds
from twilio_operator.reconcile.registry import REGISTRY

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SCHEMAS = {
    c["spec"]["names"]["kind"]: c["spec"]["versions"][0]["schema"]["openAPIV3Schema"] for c in all_crds()
}


def documents() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(EXAMPLES.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") in SCHEMAS:
                found.append((f"{path.relative_to(EXAMPLES)}:{doc['metadata']['name']}", doc))
    return found


@pytest.mark.parametrize(("where", "doc"), documents(), ids=[w for w, _ in documents()])
def test_example_is_valid(where: str, doc: dict[str, Any]) -> None:
    errors = list(OAS30Validator(SCHEMAS[doc["kind"]]).iter_errors(doc))
    assert errors == [], f"{where}: {[e.message for e in errors]}"


def test_there_are_examples_of_every_kind() -> None:
    kinds = {doc["kind"] for _, doc in documents()}
    assert kinds == {entry.kind.kind for entry in REGISTRY}
