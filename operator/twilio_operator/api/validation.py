"""CEL validation rules (`x-kubernetes-validations`) the API server checks at admission, declared on the
models so the CRDs carry them: a mistake a person can fix in the manifest is refused by `kubectl apply`
with a message saying what to write, instead of surfacing later as a status condition.

A model lists its rules in `CEL_RULES` (inherited rules are kept: a child of ChildSpec has ChildSpec's too); a
string field that must match a pattern uses `matches(...)` so the message is words, not a regular
expression.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic.config import JsonDict

RULES = "x-kubernetes-validations"


@dataclass(frozen=True)
class Rule:
    """One x-kubernetes-validations entry. `self` is the value the rule sits on; `oldSelf`, in a
    transition rule, its value before the update (transition rules run on updates only)."""

    rule: str
    message: str
    # Where kube-apiserver reports the failure, relative to the rule's value (e.g. ".secretName").
    field_path: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rule": self.rule, "message": self.message}
        if self.field_path:
            out["fieldPath"] = self.field_path
        return out


def model_rules(schema: JsonDict, model: type[Any]) -> None:
    """pydantic's json_schema_extra for every API model: the CEL_RULES of the model and its bases."""
    rules: list[Rule] = []
    for klass in reversed(model.__mro__):
        for rule in vars(klass).get("CEL_RULES", ()):
            if rule not in rules:
                rules.append(rule)
    if rules:
        schema[RULES] = [r.to_json() for r in rules]


def cel_string(text: str) -> str:
    """A CEL string literal (JSON's escaping is a subset of CEL's)."""
    return json.dumps(text)


def matching(pattern: str, message: str) -> Callable[[JsonDict], None]:
    """json_schema_extra for a string field: `pattern` as a CEL rule with `message`, in place of the bare
    `pattern` keyword, whose failure kube-apiserver reports by printing the regular expression. pydantic
    still checks the pattern when the operator reads the spec."""

    def extra(schema: JsonDict) -> None:
        # An optional field's schema is anyOf [the string, null]: the pattern sits in the string's branch.
        branches = schema.get("anyOf")
        for branch in [schema, *(branches if isinstance(branches, list) else [])]:
            if isinstance(branch, dict):
                branch.pop("pattern", None)
        schema[RULES] = [Rule(f"self.matches({cel_string(pattern)})", message).to_json()]

    return extra


def one_of(first: str, second: str) -> tuple[Rule, Rule]:
    """Exactly one of two optional fields, with a message for each way of getting it wrong."""
    return (
        Rule(f"!(has(self.{first}) && has(self.{second}))", f"set {first} or {second}, not both"),
        Rule(f"has(self.{first}) || has(self.{second})", f"set {first} or {second}"),
    )


def at_most_one_of(first: str, second: str) -> Rule:
    return Rule(f"!(has(self.{first}) && has(self.{second}))", f"set {first} or {second}, not both")


def immutable_once_set(name: str, why: str) -> Rule:
    """A transition rule: the optional field `name` keeps the value it was created with (set or not)."""
    return Rule(
        f"has(self.{name}) == has(oldSelf.{name}) && (!has(self.{name}) || self.{name} == oldSelf.{name})",
        f"{name} cannot be changed: {why}",
        field_path=f".{name}",
    )
