"""CEL validation rules of CRD schemas (`x-kubernetes-validations`), evaluated as kube-apiserver does at
admission: with cel-python (RE2 regular expressions, as Kubernetes' CEL has), after the OpenAPI checks.

What kube-apiserver does and this does too: `self` is the value the rule sits on; a transition rule (one that
names `oldSelf`) runs only on an update where the value existed before; a value an update leaves unchanged is
not checked again (validation ratcheting, so an object admitted under older rules stays writable); a failure
is reported on the rule's path plus its `fieldPath`, as "Invalid value: <scalar>: <message>" (objects and
lists are not printed). What it does not: Kubernetes' CEL extension libraries (quantities, URLs, IPs,
`format`), `messageExpression`, `reason`, `optionalOldSelf`, cost limits, and oldSelf for items of lists
(kube-apiserver correlates items of map and set lists); the project's rules need none of them.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import celpy
from celpy.adapter import json_to_cel
from celpy.celtypes import BoolType
from celpy.evaluation import CELEvalError

from .errors import Cause, _render
from .jsonutil import json_equal

JsonObj = dict[str, Any]
RULES = "x-kubernetes-validations"
_MISSING = object()


@cache
def _program(rule: str) -> celpy.Runner:
    environment = celpy.Environment()
    return environment.program(environment.compile(rule))


# Schema errors after which kube-apiserver runs no rule (apiextensions' hasBlockingErr): a rule could not
# count on the value's shape. A pattern or range error does not block.
BLOCKING = frozenset(
    {
        "FieldValueRequired",
        "FieldValueNotSupported",
        "FieldValueTooLong",
        "FieldValueTooMany",
        "FieldValueTypeInvalid",
    }
)
NOT_CHECKED = Cause(
    "FieldValueInvalid",
    "Invalid value: null: some validation rules were not checked because the object was invalid; correct the "
    "existing errors to complete validation",
    "<nil>",
)


def validate_rules(
    obj: JsonObj, old: JsonObj | None, schema: JsonObj | None, schema_causes: list[Cause]
) -> list[Cause]:
    """Causes for every rule `obj` breaks; `old` is the stored object on an update, None on a create;
    `schema_causes` what the OpenAPI checks found (some of which mean no rule runs)."""
    if schema is None:
        return []
    if any(cause.reason in BLOCKING for cause in schema_causes):
        # kube-apiserver says so only when the schema has rules to skip (no CEL validator is built otherwise).
        return [NOT_CHECKED] if _has_rules(schema) else []
    causes: list[Cause] = []
    _walk(obj, old if old is not None else _MISSING, schema, "", causes)
    return causes


def _has_rules(node: Any) -> bool:
    if isinstance(node, dict):
        return bool(node.get(RULES)) or any(_has_rules(child) for child in node.values())
    if isinstance(node, list):
        return any(_has_rules(child) for child in node)
    return False


def _walk(value: Any, old: Any, schema: JsonObj, path: str, causes: list[Cause]) -> None:
    if value is None:
        return
    for entry in schema.get(RULES) or []:
        _check(entry, value, old, path, causes)
    properties: JsonObj = schema.get("properties") or {}
    additional = schema.get("additionalProperties")
    if isinstance(value, dict):
        for key, item in value.items():
            sub = properties.get(key, additional if isinstance(additional, dict) else None)
            if isinstance(sub, dict) and key != "metadata":
                before = old.get(key, _MISSING) if isinstance(old, dict) else _MISSING
                _walk(item, before, sub, f"{path}.{key}" if path else key, causes)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            _walk(item, _MISSING, schema["items"], f"{path}[{index}]", causes)


def _check(entry: JsonObj, value: Any, old: Any, path: str, causes: list[Cause]) -> None:
    rule = str(entry.get("rule") or "")
    transition = "oldSelf" in rule
    if transition and old is _MISSING:
        return
    if not transition and old is not _MISSING and json_equal(value, old):
        return
    activation = {"self": json_to_cel(value)}
    if transition:
        activation["oldSelf"] = json_to_cel(old)
    try:
        result = _program(rule).evaluate(activation)
        message = str(entry.get("message") or f"failed rule: {rule}")
    except CELEvalError as error:
        result, message = BoolType(False), f"{error.args[0] if error.args else error} evaluating rule: {rule}"
    # A rule must evaluate to a bool; anything else fails it, as in kube-apiserver.
    if isinstance(result, BoolType) and bool(result):
        return
    field = path + str(entry.get("fieldPath") or "")
    shown = "" if isinstance(value, (dict, list)) else f"{_render(value)}: "
    causes.append(Cause("FieldValueInvalid", f"Invalid value: {shown}{message}", field))
