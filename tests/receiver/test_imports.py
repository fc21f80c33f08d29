"""The receiver is its own process: it never loads the reconcile side, the kopf wiring or the sandbox."""

from __future__ import annotations

import ast
from pathlib import Path

RECEIVER = Path(__file__).resolve().parents[2] / "operator" / "twilio_operator" / "receiver"
FORBIDDEN = (
    "twilio_operator.reconcile",
    "twilio_operator.handlers",
    "twilio_operator.runner",
    "twilio_operator.sandbox",
)


def absolute(module: Path, node: ast.ImportFrom) -> str:
    package = list(module.relative_to(RECEIVER.parent.parent).with_suffix("").parts[:-1])
    base = package[: len(package) - node.level + 1] if node.level else []
    return ".".join([*base, *([node.module] if node.module else [])])


def test_receiver_imports_none_of_the_operator_side() -> None:
    found = []
    for path in RECEIVER.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [absolute(path, node)]
            found += [(path.name, name) for name in names if name.startswith(FORBIDDEN)]
    assert found == []
    assert any(RECEIVER.rglob("*.py"))
