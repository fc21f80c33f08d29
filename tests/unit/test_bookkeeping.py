"""The update kopf sees after the operator records a SID is recognised as the operator's own."""

from __future__ import annotations

from typing import Any

import kopf
import pytest

from twilio_operator.handlers import _only_our_bookkeeping
from twilio_operator.reconcile.model import EXTERNAL_NAME

SID = "AC" + "1" * 32


class FakeReconciler:
    def __init__(self) -> None:
        self.recorded = {"uid-1": SID}


def diff(*items: tuple[str, tuple[str, ...], Any, Any]) -> kopf.Diff:
    return kopf.Diff(
        [kopf.DiffItem(kopf.DiffOperation(op), field, old, new) for op, field, old, new in items]
    )


BODY = kopf.Body({"metadata": {"uid": "uid-1"}})


@pytest.mark.parametrize(
    "change",
    [
        diff(("add", ("metadata",), None, {"annotations": {EXTERNAL_NAME: SID}})),
        diff(("add", ("metadata", "annotations"), None, {EXTERNAL_NAME: SID})),
        diff(("change", ("metadata", "annotations", EXTERNAL_NAME), "AC" + "0" * 32, SID)),
    ],
)
def test_our_own_record_is_bookkeeping(change: kopf.Diff) -> None:
    assert _only_our_bookkeeping(change, FakeReconciler(), BODY)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "change",
    [
        diff(("change", ("metadata", "annotations", EXTERNAL_NAME), SID, "AC" + "2" * 32)),
        diff(("add", ("metadata", "annotations"), None, {EXTERNAL_NAME: SID, "x": "y"})),
        diff(
            ("change", ("metadata", "annotations", EXTERNAL_NAME), None, SID),
            ("change", ("spec", "state"), "Active", "Suspended"),
        ),
        diff(),
    ],
)
def test_anything_else_is_a_change_to_act_on(change: kopf.Diff) -> None:
    assert not _only_our_bookkeeping(change, FakeReconciler(), BODY)  # type: ignore[arg-type]
