"""The 52-item raw-HTTP checklist from the appendix of k8s-api-behaviours.md, one test per item."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import pytest
from conftest import WIDGETS, Http, widget, widget_crd

W1 = f"{WIDGETS}/w1"


async def created(kube: Http, **extra: Any) -> dict[str, Any]:
    reply = await kube.post(WIDGETS, widget(**extra))
    assert reply.status == 201
    body: dict[str, Any] = reply.body
    return body


async def test_checklist_01_create_returns_201(kube: Http) -> None:
    assert (await kube.post(WIDGETS, widget())).status == 201


async def test_checklist_02_uid_assigned(kube: Http) -> None:
    uuid.UUID((await created(kube))["metadata"]["uid"])


async def test_checklist_03_resource_version_assigned(kube: Http) -> None:
    assert (await created(kube))["metadata"]["resourceVersion"].isdigit()


async def test_checklist_04_creation_timestamp_assigned(kube: Http) -> None:
    stamp = (await created(kube))["metadata"]["creationTimestamp"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", stamp)


async def test_checklist_05_generation_is_1(kube: Http) -> None:
    assert (await created(kube))["metadata"]["generation"] == 1


async def test_checklist_06_namespace_from_url(kube: Http) -> None:
    assert (await created(kube))["metadata"]["namespace"] == "default"


async def test_checklist_07_generate_name(kube: Http) -> None:
    body = widget()
    body["metadata"] = {"generateName": "gen-"}
    reply = await kube.post(WIDGETS, body)
    assert reply.status == 201
    assert re.fullmatch(r"gen-[a-z0-9]{5}", reply.body["metadata"]["name"])


async def test_checklist_08_invalid_name_rejected(kube: Http) -> None:
    assert (await kube.post(WIDGETS, widget(name="Not_Valid"))).status == 422


async def test_checklist_09_missing_namespace(kube: Http) -> None:
    reply = await kube.post("/apis/example.com/v1/namespaces/no-such-ns/widgets", widget())
    assert reply.status == 404
    assert reply.body["details"]["name"] == "no-such-ns"
    assert reply.body["details"]["kind"] == "namespaces"


async def test_checklist_10_rv_changes_on_update(kube: Http) -> None:
    before = (await created(kube))["metadata"]["resourceVersion"]
    after = (await kube.merge(W1, {"spec": {"size": 4}})).body["metadata"]["resourceVersion"]
    assert int(after) > int(before)


async def test_checklist_11_generation_bumps_on_spec_change(kube: Http) -> None:
    await created(kube)
    assert (await kube.merge(W1, {"spec": {"size": 4}})).body["metadata"]["generation"] == 2


async def test_checklist_12_generation_unchanged_on_status_change(kube: Http) -> None:
    await created(kube)
    assert (await kube.merge(f"{W1}/status", {"status": {"x": 1}})).body["metadata"]["generation"] == 1


async def test_checklist_13_stale_merge_patch_conflicts(kube: Http) -> None:
    stale = (await created(kube))["metadata"]["resourceVersion"]
    await kube.merge(W1, {"spec": {"size": 4}})
    reply = await kube.merge(W1, {"metadata": {"resourceVersion": stale}, "spec": {"size": 5}})
    assert reply.status == 409


async def test_checklist_14_put_routed(kube: Http) -> None:
    body = await created(kube)
    assert (await kube.put(W1, body)).status == 200


async def test_checklist_15_put_with_stale_rv(kube: Http) -> None:
    body = await created(kube)
    await kube.merge(W1, {"spec": {"size": 4}})
    assert (await kube.put(W1, body)).status == 409


async def test_checklist_16_put_with_current_rv(kube: Http) -> None:
    body = await created(kube)
    body["spec"]["size"] = 8
    reply = await kube.put(W1, body)
    assert reply.status == 200
    assert reply.body["spec"]["size"] == 8


async def test_checklist_17_failed_json_patch_test_is_422(kube: Http) -> None:
    await created(kube)
    reply = await kube.jsonpatch(W1, [{"op": "test", "path": "/metadata/resourceVersion", "value": "0"}])
    assert reply.status == 422


async def test_checklist_18_status_patch_ignores_spec(kube: Http) -> None:
    await created(kube)
    reply = await kube.merge(f"{W1}/status", {"spec": {"size": 9}, "status": {"x": 1}})
    assert reply.body["spec"]["size"] == 3


async def test_checklist_19_main_patch_ignores_status(kube: Http) -> None:
    await created(kube)
    reply = await kube.merge(W1, {"status": {"x": 1}})
    assert "status" not in reply.body


async def test_checklist_20_get_status(kube: Http) -> None:
    await created(kube)
    assert (await kube.get(f"{W1}/status")).status == 200


async def test_checklist_21_merge_patch_replaces_lists(kube: Http) -> None:
    await created(kube, spec={"tags": ["a", "b"]})
    assert (await kube.merge(W1, {"spec": {"tags": ["c"]}})).body["spec"]["tags"] == ["c"]


async def test_checklist_22_merge_patch_null_deletes(kube: Http) -> None:
    await created(kube, spec={"code": "AB1"})
    assert "code" not in (await kube.merge(W1, {"spec": {"code": None}})).body["spec"]


async def test_checklist_23_json_patch_applied(kube: Http) -> None:
    await created(kube)
    reply = await kube.jsonpatch(W1, [{"op": "replace", "path": "/spec/size", "value": 6}])
    assert reply.body["spec"]["size"] == 6


async def test_checklist_24_strategic_merge_patch_on_cr_is_415(kube: Http) -> None:
    await created(kube)
    reply = await kube.request(
        "PATCH", W1, {"spec": {"size": 4}}, content_type="application/strategic-merge-patch+json"
    )
    assert reply.status == 415


async def test_checklist_25_unknown_patch_type_is_415(kube: Http) -> None:
    await created(kube)
    assert (await kube.request("PATCH", W1, {"spec": {}}, content_type="application/x-frob")).status == 415


async def test_checklist_26_list_label_selector(kube: Http) -> None:
    await created(kube, metadata={"labels": {"app": "x"}})
    await kube.post(WIDGETS, widget(name="w2"))
    items = (await kube.get(WIDGETS, labelSelector="app=x")).body["items"]
    assert [i["metadata"]["name"] for i in items] == ["w1"]


async def test_checklist_27_list_field_selector(kube: Http) -> None:
    await created(kube)
    await kube.post(WIDGETS, widget(name="w2"))
    items = (await kube.get(WIDGETS, fieldSelector="metadata.name=w2")).body["items"]
    assert [i["metadata"]["name"] for i in items] == ["w2"]


async def test_checklist_28_list_kind_and_api_version(kube: Http) -> None:
    body = (await kube.get(WIDGETS)).body
    assert body["kind"] == "WidgetList"
    assert body["apiVersion"] == "example.com/v1"


async def test_checklist_29_list_resource_version_is_real(kube: Http) -> None:
    await created(kube)
    assert (await kube.get(WIDGETS)).body["metadata"]["resourceVersion"].isdigit()


async def test_checklist_30_pagination(kube: Http) -> None:
    await created(kube)
    await kube.post(WIDGETS, widget(name="w2"))
    page = (await kube.get(WIDGETS, limit="1")).body
    assert len(page["items"]) == 1
    assert page["metadata"]["continue"]


async def test_checklist_31_cluster_wide_list(kube: Http) -> None:
    await created(kube)
    reply = await kube.get("/apis/example.com/v1/widgets")
    assert reply.status == 200
    assert len(reply.body["items"]) == 1


async def test_checklist_32_watch_label_selector(kube: Http) -> None:
    await kube.post(WIDGETS, widget(name="other"))
    await created(kube, metadata={"labels": {"app": "x"}})
    events, _ = await kube.watch(WIDGETS, params={"labelSelector": "app=x"}, limit=0.5)
    assert [e["object"]["metadata"]["name"] for e in events] == ["w1"]


async def test_checklist_33_watch_from_list_rv_does_not_replay(kube: Http) -> None:
    await created(kube)
    rv = (await kube.get(WIDGETS)).body["metadata"]["resourceVersion"]
    events, _ = await kube.watch(WIDGETS, params={"resourceVersion": rv}, limit=0.4)
    assert events == []


@pytest.mark.emulator_only("the bookmark interval is an emulator setting; kube-apiserver sends one a minute")
async def test_checklist_34_watch_bookmarks(kube: Http) -> None:
    events, _ = await kube.watch(
        WIDGETS, params={"allowWatchBookmarks": "true", "resourceVersion": "1"}, count=1
    )
    assert events[0]["type"] == "BOOKMARK"


async def test_checklist_35_watch_too_old_rv(kube: Http) -> None:
    await created(kube)
    if kube.backend == "emulator":
        # A real API server's watch cache starts at the version it was filled at: "1" is too old already.
        await kube.request("POST", "/__sandbox/compact")
    events, _ = await kube.watch(WIDGETS, params={"resourceVersion": "1"}, limit=2)
    assert events[0]["type"] == "ERROR"
    assert events[0]["object"]["code"] == 410


async def test_checklist_36_watch_timeout_seconds(kube: Http) -> None:
    started = time.monotonic()
    current = (await kube.get(WIDGETS)).body["metadata"]["resourceVersion"]
    await kube.watch(WIDGETS, params={"timeoutSeconds": "1", "resourceVersion": current}, limit=5)
    assert time.monotonic() - started < 3


async def test_checklist_37_delete_with_finalizer_keeps_object(kube: Http) -> None:
    await created(kube, metadata={"finalizers": ["example.com/f"]})
    await kube.delete(W1)
    assert (await kube.get(W1)).body["metadata"]["deletionTimestamp"]


async def test_checklist_38_removing_last_finalizer_deletes(kube: Http) -> None:
    await created(kube, metadata={"finalizers": ["example.com/f"]})
    await kube.delete(W1)
    await kube.merge(W1, {"metadata": {"finalizers": None}})
    assert (await kube.get(W1)).status == 404


async def test_checklist_39_delete_returns_200(kube: Http) -> None:
    await created(kube)
    reply = await kube.delete(W1)
    assert reply.status == 200
    assert reply.body["kind"] in ("Status", "Widget")


async def test_checklist_40_delete_missing_is_404(kube: Http) -> None:
    assert (await kube.delete(W1)).status == 404


async def test_checklist_41_new_finalizer_on_deleting_object_is_422(kube: Http) -> None:
    await created(kube, metadata={"finalizers": ["example.com/f"]})
    await kube.delete(W1)
    reply = await kube.merge(W1, {"metadata": {"finalizers": ["example.com/f", "example.com/g"]}})
    assert reply.status == 422


async def test_checklist_42_secret_string_data(kube: Http) -> None:
    reply = await kube.post(
        "/api/v1/namespaces/default/secrets", {"metadata": {"name": "s"}, "stringData": {"k": "v"}}
    )
    assert reply.body["data"] == {"k": "dg=="}
    assert "stringData" not in reply.body


async def test_checklist_43_owner_reference_gc(kube: Http) -> None:
    owner = await created(kube)
    ref = {"apiVersion": "example.com/v1", "kind": "Widget", "name": "w1", "uid": owner["metadata"]["uid"]}
    await kube.post(
        "/api/v1/namespaces/default/secrets", {"metadata": {"name": "dep", "ownerReferences": [ref]}}
    )
    await kube.delete(W1)
    await kube.settle_gc()
    await kube.gone("/api/v1/namespaces/default/secrets/dep")


async def test_checklist_44_ssa_creates(kube: Http) -> None:
    reply = await kube.apply(W1, widget(), fieldManager="m")
    assert reply.status in (200, 201)
    assert (await kube.get(W1)).status == 200


async def test_checklist_45_ssa_records_managed_fields(kube: Http) -> None:
    reply = await kube.apply(W1, widget(), fieldManager="m")
    assert reply.body["metadata"]["managedFields"][0]["manager"] == "m"


async def test_checklist_46_ssa_conflict(kube: Http) -> None:
    await kube.apply(W1, widget(size=3), fieldManager="a")
    assert (await kube.apply(W1, widget(size=4), fieldManager="b")).status == 409


async def test_checklist_47_crd_post(http: Http) -> None:
    crd = widget_crd(group="example2.com")
    reply = await http.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
    assert reply.status == 201


async def test_checklist_48_posted_crd_in_discovery(http: Http) -> None:
    await http.post(
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", widget_crd(group="example2.com")
    )
    await http.served("/apis/example2.com/v1")


async def test_checklist_49_schema_rejects_bad_type(kube: Http) -> None:
    body = widget()
    body["spec"]["size"] = "three"
    reply = await kube.post(WIDGETS, body)
    assert reply.status == 422
    assert "spec.size" in reply.fields()


async def test_checklist_50_schema_prunes_unknown_fields(kube: Http) -> None:
    reply = await kube.post(WIDGETS, widget(spec={"unknown": True}))
    assert "unknown" not in reply.body["spec"]


async def test_checklist_51_list_namespaces(http: Http) -> None:
    assert (await http.get("/api/v1/namespaces")).status == 200


async def test_checklist_52_get_default_namespace(http: Http) -> None:
    assert (await http.get("/api/v1/namespaces/default")).status == 200
