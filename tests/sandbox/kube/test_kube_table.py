"""Server-side Table output for `kubectl get`, and the JSONPath subset printer columns use."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import WIDGETS, Http, widget, widget_crd

from twilio_operator.sandbox.kube.jsonpath import JsonPathError, evaluate, parse
from twilio_operator.sandbox.kube.table import human_duration

TABLE = ",".join(
    [
        "application/json;as=Table;v=v1;g=meta.k8s.io",
        "application/json;as=Table;v=v1beta1;g=meta.k8s.io",
        "application/json",
    ]
)


async def test_table_list_uses_printer_columns(kube: Http) -> None:
    await kube.post(WIDGETS, widget(metadata={"labels": {"a": "b"}}))
    reply = await kube.request("GET", WIDGETS, headers={"Accept": TABLE})
    assert reply.status == 200
    table = reply.body
    assert table["kind"] == "Table"
    assert table["apiVersion"] == "meta.k8s.io/v1"
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Size"]
    assert table["columnDefinitions"][0]["format"] == "name"
    assert table["rows"][0]["cells"] == ["w1", 3]
    partial = table["rows"][0]["object"]
    assert partial["kind"] == "PartialObjectMetadata"
    assert partial["metadata"]["labels"] == {"a": "b"}
    full = await kube.request("GET", WIDGETS, headers={"Accept": TABLE}, params={"includeObject": "Object"})
    assert full.body["rows"][0]["object"]["spec"]["size"] == 3
    plain = await kube.request("GET", WIDGETS, headers={"Accept": "application/json"})
    assert plain.body["kind"] == "WidgetList"


async def test_table_for_single_object_and_builtins(kube: Http) -> None:
    await kube.post(WIDGETS, widget())
    single = await kube.request("GET", f"{WIDGETS}/w1", headers={"Accept": TABLE})
    assert [row["cells"][0] for row in single.body["rows"]] == ["w1"]
    await kube.post(
        "/api/v1/namespaces/default/secrets", {"metadata": {"name": "s"}, "stringData": {"a": "b"}}
    )
    secrets = await kube.request("GET", "/api/v1/namespaces/default/secrets", headers={"Accept": TABLE})
    assert [c["name"] for c in secrets.body["columnDefinitions"]] == ["Name", "Type", "Data", "Age"]
    assert secrets.body["rows"][0]["cells"][:3] == ["s", "Opaque", 1]
    namespaces = await kube.request("GET", "/api/v1/namespaces", headers={"Accept": TABLE})
    assert namespaces.body["rows"][0]["cells"][:2] == ["default", "Active"]


async def test_table_watch_sends_column_definitions_once(kube: Http) -> None:
    async def changes() -> None:
        await kube.post(WIDGETS, widget())
        await kube.merge(f"{WIDGETS}/w1", {"spec": {"size": 4}})

    events: list[dict[str, Any]] = []
    current = (await kube.get(WIDGETS)).body["metadata"]["resourceVersion"]
    async with kube.session.get(
        kube.base + WIDGETS, params={"watch": "true", "resourceVersion": current}, headers={"Accept": TABLE}
    ) as response:
        await changes()
        async for line in response.content:
            if line.strip():
                events.append(json.loads(line))
            if len(events) == 2:
                break
    first, second = events
    assert first["object"]["kind"] == "Table"
    assert [c["name"] for c in first["object"]["columnDefinitions"]] == ["Name", "Size"]
    assert first["object"]["rows"][0]["cells"] == ["w1", 3]
    assert second["object"]["columnDefinitions"] is None
    assert second["object"]["rows"][0]["cells"] == ["w1", 4]


async def test_printer_columns_with_filters_dates_and_priorities(http: Http) -> None:
    crd = widget_crd()
    crd["spec"]["versions"][0]["additionalPrinterColumns"] = [
        {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
        {
            "name": "Reason",
            "type": "string",
            "jsonPath": '.status.conditions[?(@.type=="Ready")].reason',
            "priority": 1,
        },
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]
    await http.install_crd(crd)
    await http.post(WIDGETS, widget())
    await http.merge(
        f"{WIDGETS}/w1/status",
        {
            "status": {
                "conditions": [
                    {"type": "Synced", "status": "False"},
                    {"type": "Ready", "status": "True", "reason": "Available"},
                ]
            }
        },
    )
    table = (await http.request("GET", WIDGETS, headers={"Accept": TABLE})).body
    assert [(c["name"], c["priority"]) for c in table["columnDefinitions"]] == [
        ("Name", 0),
        ("Ready", 0),
        ("Reason", 1),
        ("Age", 0),
    ]
    cells = table["rows"][0]["cells"]
    assert cells[:3] == ["w1", "True", "Available"]
    assert cells[3].endswith("s")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (".spec.size", [3]),
        ("{.spec.size}", [3]),
        (".spec.items[0].name", ["a"]),
        (".spec.items[*].name", ["a", "b"]),
        (".spec.items[-1].name", ["b"]),
        (".spec.items[?(@.name=='b')].value", [2]),
        (".spec.items[?(@.value)].name", ["a", "b"]),
        ('.spec.items[?(@.name!="a")].name', ["b"]),
        (".metadata.labels['app.kubernetes.io/name']", ["demo"]),
        (".spec.missing", []),
    ],
)
def test_jsonpath_subset(path: str, expected: list[Any]) -> None:
    data = {
        "metadata": {"labels": {"app.kubernetes.io/name": "demo"}},
        "spec": {"size": 3, "items": [{"name": "a", "value": 1}, {"name": "b", "value": 2}]},
    }
    assert evaluate(parse(path), data) == expected


def test_jsonpath_rejects_unsupported_syntax() -> None:
    with pytest.raises(JsonPathError):
        parse(".spec[?(@.a > 1)]")


def test_human_duration_matches_kubectl() -> None:
    assert human_duration(5) == "5s"
    assert human_duration(150) == "2m30s"
    assert human_duration(600) == "10m"
    assert human_duration(3 * 3600 + 120) == "3h2m"
    assert human_duration(30 * 3600) == "30h"
    assert human_duration(3 * 86400 + 3600) == "3d1h"
    assert human_duration(400 * 86400) == "400d"
