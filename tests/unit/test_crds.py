"""The committed CRDs are exactly what the models generate, and are well-formed structural schemas."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from twilio_operator.api.crd import all_crds, crd_filename, crd_for, render
from twilio_operator.api.kinds import KINDS, Kind

CRD_DIR = Path(__file__).resolve().parents[2] / "crds"


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_committed_crd_matches_regeneration(kind: Kind) -> None:
    committed = (CRD_DIR / crd_filename(kind)).read_text()
    assert committed == render(crd_for(kind)), "crds/ is stale: run `make generate`"


def test_no_unexpected_files_in_crd_dir() -> None:
    assert sorted(p.name for p in CRD_DIR.glob("*.yaml")) == sorted(crd_filename(k) for k in KINDS)


def _walk(schema: dict[str, Any], path: str) -> list[tuple[str, dict[str, Any]]]:
    found = [(path, schema)]
    for name, prop in schema.get("properties", {}).items():
        found += _walk(prop, f"{path}.{name}")
    if "items" in schema:
        found += _walk(schema["items"], f"{path}[]")
    return found


@pytest.mark.parametrize("crd", all_crds(), ids=lambda c: c["spec"]["names"]["kind"])
def test_schema_is_structural_and_documented(crd: dict[str, Any]) -> None:
    version = crd["spec"]["versions"][0]
    root = version["schema"]["openAPIV3Schema"]
    for path, node in _walk(root, ""):
        # Structural schemas allow an untyped node only where it keeps whatever it is given (EventStream's
        # types: a name or an object), which the operator checks instead.
        assert "type" in node or node.get("x-kubernetes-preserve-unknown-fields") is True, (
            f"{path} has no type"
        )
        assert "$ref" not in node and "anyOf" not in node and "title" not in node, path
        # metadata's schema is the API server's own: only its type may be given.
        if path.count(".") >= 1 and not path.endswith("[]") and path != ".metadata":
            assert node.get("description"), f"{path} has no description"
    assert root["properties"]["metadata"] == {"type": "object"}
    assert version["subresources"] == {"status": {}}
    names = crd["spec"]["names"]
    assert names["categories"] == ["twilio"] and len(names["shortNames"]) == 1
    columns = [c["name"] for c in version["additionalPrinterColumns"]]
    assert columns[:3] == ["SID", "READY", "SYNCED"] and columns[-1] == "AGE"


def test_patterns_are_re2_compatible() -> None:
    # The API server compiles patterns with RE2: no lookaround, no backreferences.
    for crd in all_crds():
        for path, node in _walk(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"], ""):
            pattern = node.get("pattern", "")
            assert "(?=" not in pattern and "(?!" not in pattern and "(?<" not in pattern, path
