"""Secrets and Events (K1-K3), CRD registration and schema handling (R1, R2, R4-R7)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from conftest import WIDGETS, Http, eventually, widget, widget_crd

from twilio_operator.sandbox.kube import KubeEmulator

SECRETS = "/api/v1/namespaces/default/secrets"
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


async def test_K1_string_data_folds_into_data_on_create_put_and_patch(http: Http) -> None:
    created = await http.post(
        SECRETS,
        {"metadata": {"name": "s"}, "data": {"a": b64("old"), "b": b64("keep")}, "stringData": {"a": "v"}},
    )
    assert created.status == 201
    assert created.body["data"] == {"a": b64("v"), "b": b64("keep")}
    assert "stringData" not in created.body
    assert "stringData" not in (await http.get(f"{SECRETS}/s")).body
    patched = await http.merge(f"{SECRETS}/s", {"stringData": {"c": "new"}})
    assert patched.body["data"]["c"] == b64("new")
    assert "stringData" not in patched.body
    current = patched.body
    current["stringData"] = {"a": "put"}
    put = await http.put(f"{SECRETS}/s", current)
    assert put.body["data"]["a"] == b64("put")
    assert "stringData" not in put.body


async def test_K1_invalid_base64_data_rejected(http: Http) -> None:
    # Secret data is []byte in Go: a value that is not base64 fails to decode, before any validation.
    reply = await http.post(SECRETS, {"metadata": {"name": "s"}, "data": {"a": "not base64!"}})
    assert reply.status == 400
    assert reply.reason == "BadRequest"


async def test_K2_secret_type_defaults_and_is_immutable(http: Http) -> None:
    created = await http.post(SECRETS, {"metadata": {"name": "s"}})
    assert created.body["type"] == "Opaque"
    changed = await http.merge(f"{SECRETS}/s", {"type": "kubernetes.io/basic-auth"})
    assert changed.status == 422
    assert "type" in changed.fields()


async def test_K3_core_events_posted_listed_and_watched(kube: Http) -> None:
    owner = (await kube.post(WIDGETS, widget())).body
    event = {
        "metadata": {"generateName": "kopf-event-"},
        "involvedObject": {
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "name": "w1",
            "namespace": "default",
            "uid": owner["metadata"]["uid"],
        },
        "reason": "Logging",
        "message": "Handler succeeded.",
        "type": "Normal",
        "source": {"component": "kopf"},
        "firstTimestamp": "2026-01-01T00:00:00+00:00",
        "eventTime": "2026-01-01T00:00:00.123456+00:00",
    }
    # With an eventTime, an Event must say who reported it and what they did (kopf's events do).
    incomplete = await kube.post("/api/v1/namespaces/default/events", event)
    assert incomplete.status == 422
    assert {"reportingComponent", "reportingInstance", "action"} <= set(incomplete.fields())
    event.update(reportingComponent="kopf", reportingInstance="dev", action="Logging")
    posted = await kube.post("/api/v1/namespaces/default/events", event)
    assert posted.status == 201
    listing = await kube.get("/api/v1/namespaces/default/events")
    assert [e["reason"] for e in listing.body["items"]] == ["Logging"]
    selected = await kube.get(
        "/api/v1/namespaces/default/events",
        fieldSelector=f"involvedObject.name=w1,involvedObject.uid={owner['metadata']['uid']},source=kopf",
    )
    assert len(selected.body["items"]) == 1
    events, _ = await kube.watch("/api/v1/events", count=1)
    assert events[0]["object"]["message"] == "Handler succeeded."
    v1 = await kube.get("/apis/events.k8s.io/v1/namespaces/default/events")
    assert v1.body["items"][0]["note"] == "Handler succeeded."
    assert v1.body["items"][0]["regarding"]["name"] == "w1"
    # A built-in's list items carry no kind or apiVersion of their own: the list's say what they are.
    assert v1.body["apiVersion"] == "events.k8s.io/v1"
    assert "apiVersion" not in v1.body["items"][0]


async def test_R1_crd_create_names_and_watch_event(http: Http) -> None:
    async def create() -> None:
        await http.post(CRDS, widget_crd())

    events, _ = await http.watch(CRDS, params={"resourceVersion": "1"}, count=1, during=create)
    assert events[0]["type"] == "ADDED"
    assert events[0]["object"]["metadata"]["name"] == "widgets.example.com"
    wrong = widget_crd()
    wrong["metadata"]["name"] = "gadgets.example.com"
    reply = await http.post(CRDS, wrong)
    assert reply.status == 422
    assert "metadata.name" in reply.fields()


async def test_R2_crd_status_established(http: Http) -> None:
    assert (await http.post(CRDS, widget_crd())).status == 201

    async def established() -> dict[str, Any] | None:
        # The emulator establishes a CRD in the request that creates it, kube-apiserver moments later.
        crd: dict[str, Any] = (await http.get(f"{CRDS}/widgets.example.com")).body
        conditions = (crd.get("status") or {}).get("conditions") or []
        established = any(c["type"] == "Established" and c["status"] == "True" for c in conditions)
        return crd if established else None

    created = await eventually(established)
    conditions = {c["type"]: c["status"] for c in created["status"]["conditions"]}
    assert conditions["Established"] == "True"
    assert conditions["NamesAccepted"] == "True"
    assert created["status"]["acceptedNames"]["kind"] == "Widget"
    assert created["status"]["acceptedNames"]["listKind"] == "WidgetList"
    assert created["status"]["storedVersions"] == ["v1"]


async def test_R2_invalid_crds_rejected(http: Http) -> None:
    no_schema = widget_crd()
    del no_schema["spec"]["versions"][0]["schema"]
    assert (await http.post(CRDS, no_schema)).status == 422
    two_storage = widget_crd()
    two_storage["spec"]["versions"].append({**two_storage["spec"]["versions"][0], "name": "v2"})
    reply = await http.post(CRDS, two_storage)
    assert reply.status == 422
    assert "spec.versions" in reply.fields()
    bad_scope = widget_crd(scope="Galaxy")
    assert (await http.post(CRDS, bad_scope)).status == 422
    # Only the type (and name/generateName) may be given for metadata: the API server owns its schema.
    described = widget_crd()
    properties = described["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
    properties["metadata"] = {"type": "object", "description": "Standard object metadata."}
    reply = await http.post(CRDS, described)
    assert reply.status == 422
    assert any("metadata" in field for field in reply.fields()), reply.fields()


async def test_R4_prune_default_validate(kube: Http) -> None:
    body = widget(spec={"unknown": 1, "extra": {"anything": {"goes": True}}, "limits": {}})
    body["topLevelJunk"] = True
    body["metadata"]["junk"] = "x"
    reply = await kube.post(WIDGETS, body, fieldValidation="Ignore")
    assert reply.status == 201
    obj = reply.body
    assert "unknown" not in obj["spec"]
    assert "topLevelJunk" not in obj
    assert "junk" not in obj["metadata"]
    assert obj["spec"]["extra"] == {"anything": {"goes": True}}
    assert obj["spec"]["color"] == "red"
    assert obj["spec"]["limits"] == {"cpu": 1}


async def test_R4_nullable_int_or_string_and_null_defaults(kube: Http) -> None:
    ok = await kube.post(WIDGETS, widget(name="a", spec={"note": None, "port": "http", "color": None}))
    assert ok.status == 201
    assert ok.body["spec"]["note"] is None
    assert ok.body["spec"]["color"] == "red"
    assert (await kube.post(WIDGETS, widget(name="b", spec={"port": 8080}))).status == 201
    bad = await kube.post(WIDGETS, widget(name="c", spec={"port": True}))
    assert bad.status == 422
    assert bad.fields() == ["spec.port"]


async def test_R5_validation_failures_name_fields(kube: Http) -> None:
    cases = [
        ({"size": 0}, "spec.size"),
        ({"size": 11}, "spec.size"),
        ({"size": "big"}, "spec.size"),
        ({"size": 1, "color": "purple"}, "spec.color"),
        ({"size": 1, "code": "lower1"}, "spec.code"),
        ({"size": 1, "code": "AB123456789"}, "spec.code"),
        ({"size": 1, "tags": "notalist"}, "spec.tags"),
        ({"size": 1, "tags": [1]}, "spec.tags[0]"),
        ({}, "spec.size"),
    ]
    for spec, field in cases:
        body = widget()
        body["spec"] = spec
        reply = await kube.post(WIDGETS, body)
        assert reply.status == 422, spec
        assert reply.reason == "Invalid"
        assert field in reply.fields(), (spec, reply.body)
        assert reply.body["details"]["kind"] == "Widget"
        assert reply.body["details"]["group"] == "example.com"


async def test_R6_field_validation_modes(kube: Http) -> None:
    body = widget(spec={"bogus": 1})
    strict = await kube.post(WIDGETS, body, fieldValidation="Strict")
    assert strict.status == 400
    assert strict.reason == "BadRequest"
    assert 'unknown field "spec.bogus"' in strict.body["message"]
    warn = await kube.post(WIDGETS, body, fieldValidation="Warn")
    assert warn.status == 201
    assert "spec.bogus" in warn.headers["Warning"]
    assert "bogus" not in warn.body["spec"]
    ignore = await kube.post(WIDGETS, widget(name="w2", spec={"bogus": 1}), fieldValidation="Ignore")
    assert ignore.status == 201
    assert "Warning" not in ignore.headers
    dup = (
        b'{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w3"},"spec":{"size":1,"size":2}}'
    )
    duplicate = await kube.request("POST", WIDGETS, raw=dup, params={"fieldValidation": "Strict"})
    assert duplicate.status == 400
    assert 'duplicate field "spec.size"' in duplicate.body["message"]
    # A patch decodes; the object it makes fails strict decoding, reported as the field `patch`.
    patched = await kube.merge(f"{WIDGETS}/w1", {"spec": {"bogus": 2}}, fieldValidation="Strict")
    assert patched.status == 422
    assert 'unknown field "spec.bogus"' in patched.body["message"]
    sometimes = await kube.post(WIDGETS, body, fieldValidation="Sometimes")
    assert sometimes.status == 422
    assert sometimes.fields() == ["fieldValidation"]


async def test_R7_single_stored_version_served_under_each_served_version(http: Http) -> None:
    crd = widget_crd()
    v1 = crd["spec"]["versions"][0]
    crd["spec"]["versions"] = [v1, {**v1, "name": "v1beta1", "storage": False}]
    await http.install_crd(crd)
    await http.post(WIDGETS, widget())
    beta = await http.get("/apis/example.com/v1beta1/namespaces/default/widgets/w1")
    assert beta.status == 200
    assert beta.body["apiVersion"] == "example.com/v1beta1"
    assert (await http.get(f"{WIDGETS}/w1")).body["apiVersion"] == "example.com/v1"


@pytest.mark.emulator_only("KubeEmulator.install_crd, the in-process shortcut")
async def test_install_crd_matches_post(emulator: KubeEmulator, http: Http) -> None:
    emulator.install_crd(widget_crd())
    stored = await http.get(f"{CRDS}/widgets.example.com")
    assert stored.status == 200
    assert "customresourcecleanup.apiextensions.k8s.io" in stored.body["metadata"]["finalizers"]
    duplicate = await http.post(CRDS, widget_crd())
    assert duplicate.status == 409


async def test_configmap_and_other_builtins(http: Http) -> None:
    path = "/api/v1/namespaces/default/configmaps"
    assert (await http.post(path, {"metadata": {"name": "c"}, "data": {"bad key": "v"}})).status == 422
    assert (
        await http.post(path, {"metadata": {"name": "c"}, "data": {"k": "v"}, "immutable": True})
    ).status == 201
    assert (await http.merge(f"{path}/c", {"data": {"k": "changed"}})).status == 422
    lease = {"metadata": {"name": "leader"}, "spec": {"holderIdentity": "me"}}
    assert (await http.post("/apis/coordination.k8s.io/v1/namespaces/default/leases", lease)).status == 201
    # Service names are DNS-1123 labels (a leading digit is fine since Kubernetes 1.34).
    service = {"metadata": {"name": "Bad_Name"}, "spec": {"ports": [{"port": 80}]}}
    assert (await http.post("/api/v1/namespaces/default/services", service)).status == 422
    service["metadata"]["name"] = "9ok"
    assert (await http.post("/api/v1/namespaces/default/services", service)).status == 201
    account = {"metadata": {"name": "sa"}}
    assert (await http.post("/api/v1/namespaces/default/serviceaccounts", account)).status == 201
    ingress = {
        "metadata": {"name": "web"},
        "spec": {"rules": [{"host": "a.example.com"}]},
        "status": {"x": 1},
    }
    created = await http.post("/apis/networking.k8s.io/v1/namespaces/default/ingresses", ingress)
    assert created.status == 201
    # Status starts empty on create (kube-apiserver shows the empty struct: {"loadBalancer": {}}).
    assert not any((created.body.get("status") or {}).values())
    assert created.body["metadata"]["generation"] == 1
