from __future__ import annotations

from typing import Any

from twilio_operator.api.common import Condition
from twilio_operator.reconcile import conditions as c


def parsed(conditions: list[dict[str, Any]]) -> list[Condition]:
    return [Condition.model_validate(cond) for cond in conditions]


def test_transition_time_is_kept_while_the_status_is_unchanged() -> None:
    first = c.merge([], {c.READY: c.Cond.false(c.CREATING)}, 1)
    first[0]["lastTransitionTime"] = "2020-01-01T00:00:00Z"
    second = c.merge(parsed(first), {c.READY: c.Cond.false(c.UNAVAILABLE, "x")}, 2)
    assert second[0]["lastTransitionTime"] == "2020-01-01T00:00:00Z"
    assert second[0]["reason"] == c.UNAVAILABLE and second[0]["observedGeneration"] == 2
    third = c.merge(parsed(second), {c.READY: c.Cond.true(c.AVAILABLE)}, 2)
    assert third[0]["lastTransitionTime"] != "2020-01-01T00:00:00Z"


def test_conditions_not_updated_are_kept_and_ordered() -> None:
    start = c.merge([], {c.SYNCED: c.Cond.true(c.RECONCILE_SUCCESS), c.READY: c.Cond.true(c.AVAILABLE)}, 1)
    assert [x["type"] for x in start] == [c.READY, c.SYNCED]
    paused = c.merge(parsed(start), {c.SYNCED: c.Cond.false(c.RECONCILE_PAUSED)}, 1)
    assert paused[0] == start[0]
    assert paused[1]["reason"] == c.RECONCILE_PAUSED
    assert c.is_true({"conditions": paused}, c.READY) and not c.is_true({"conditions": paused}, c.SYNCED)
