"""Patch types (P1-P5) and server-side apply (A1-A3)."""

from __future__ import annotations

from conftest import WIDGETS, Http, widget

W1 = f"{WIDGETS}/w1"
DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"


async def test_P1_merge_patch(kube: Http) -> None:
    await kube.post(WIDGETS, widget(spec={"tags": ["a", "b"], "note": "n", "extra": {"x": {"y": 1, "z": 2}}}))
    reply = await kube.merge(W1, {"spec": {"tags": ["c"], "note": None, "extra": {"x": {"y": 5}}}})
    spec = reply.body["spec"]
    assert spec["tags"] == ["c"]
    assert "note" not in spec
    assert spec["extra"] == {"x": {"y": 5, "z": 2}}
    assert (await kube.merge(W1, [1, 2])).status == 400


async def test_P2_json_patch(kube: Http) -> None:
    created = (await kube.post(WIDGETS, widget(spec={"tags": ["a"]}))).body
    reply = await kube.jsonpatch(
        W1,
        [
            {
                "op": "test",
                "path": "/metadata/resourceVersion",
                "value": created["metadata"]["resourceVersion"],
            },
            {"op": "add", "path": "/metadata/finalizers", "value": ["kopf.zalando.org/KopfFinalizerMarker"]},
            {"op": "add", "path": "/spec/tags/-", "value": "b"},
            {"op": "replace", "path": "/spec/size", "value": 4},
            {"op": "copy", "from": "/spec/size", "path": "/metadata/annotations"},
        ],
    )
    assert reply.status == 422  # annotations must be a map of strings
    reply = await kube.jsonpatch(
        W1,
        [
            {
                "op": "test",
                "path": "/metadata/resourceVersion",
                "value": created["metadata"]["resourceVersion"],
            },
            {"op": "add", "path": "/metadata/finalizers", "value": ["kopf.zalando.org/KopfFinalizerMarker"]},
            {"op": "add", "path": "/spec/tags/-", "value": "b"},
            {"op": "replace", "path": "/spec/size", "value": 4},
            {"op": "move", "from": "/spec/tags/0", "path": "/spec/tags/1"},
        ],
    )
    assert reply.status == 200
    assert reply.body["metadata"]["finalizers"] == ["kopf.zalando.org/KopfFinalizerMarker"]
    assert reply.body["spec"]["tags"] == ["b", "a"]
    assert reply.body["spec"]["size"] == 4


async def test_P2_failed_test_and_missing_path_are_422_not_500(kube: Http) -> None:
    await kube.post(WIDGETS, widget())
    failed = await kube.jsonpatch(W1, [{"op": "test", "path": "/metadata/resourceVersion", "value": "1"}])
    assert failed.status == 422
    assert failed.reason == "Invalid"
    missing = await kube.jsonpatch(W1, [{"op": "remove", "path": "/spec/nothing"}])
    assert missing.status == 422
    replace_missing = await kube.jsonpatch(
        W1, [{"op": "replace", "path": "/metadata/labels/x", "value": "y"}]
    )
    assert replace_missing.status == 422


async def test_P2_undecodable_patch_is_400(kube: Http) -> None:
    await kube.post(WIDGETS, widget())
    garbage = await kube.request("PATCH", W1, raw=b"{not json", content_type="application/json-patch+json")
    assert garbage.status == 400
    not_a_list = await kube.request("PATCH", W1, {"op": "add"}, content_type="application/json-patch+json")
    assert not_a_list.status == 400
    # An unknown operation decodes and fails when applied.
    unknown_op = await kube.jsonpatch(W1, [{"op": "frobnicate", "path": "/spec"}])
    assert unknown_op.status == 422


async def test_P3_strategic_merge_patch_on_custom_resource_is_415(kube: Http) -> None:
    await kube.post(WIDGETS, widget())
    reply = await kube.request(
        "PATCH", W1, {"spec": {"size": 4}}, content_type="application/strategic-merge-patch+json"
    )
    assert reply.status == 415
    assert reply.reason == "UnsupportedMediaType"


async def test_P3_strategic_merge_patch_on_builtin_merges_by_key(kube: Http) -> None:
    # A valid Deployment (selector matching the template's labels): kube-apiserver validates built-ins.
    deployment = {
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "web", "image": "nginx:1", "env": [{"name": "A", "value": "1"}]},
                        {"name": "side", "image": "busybox"},
                    ]
                },
            },
        },
    }
    assert (await kube.post(DEPLOYMENTS, deployment)).status == 201
    patch = {
        "metadata": {"finalizers": ["example.com/x"]},
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "side"}, {"name": "web"}],
                    "containers": [{"name": "web", "image": "nginx:2", "env": [{"name": "B", "value": "2"}]}],
                }
            }
        },
    }
    reply = await kube.request(
        "PATCH", f"{DEPLOYMENTS}/web", patch, content_type="application/strategic-merge-patch+json"
    )
    assert reply.status == 200
    containers = reply.body["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["side", "web"]
    web = containers[1]
    assert web["image"] == "nginx:2"
    # Without $setElementOrder, what the patch adds comes before what only the server had.
    assert web["env"] == [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}]
    delete = {"spec": {"template": {"spec": {"containers": [{"name": "side", "$patch": "delete"}]}}}}
    reply = await kube.request(
        "PATCH", f"{DEPLOYMENTS}/web", delete, content_type="application/strategic-merge-patch+json"
    )
    assert [c["name"] for c in reply.body["spec"]["template"]["spec"]["containers"]] == ["web"]


async def test_P5_unknown_patch_content_type_415(kube: Http) -> None:
    await kube.post(WIDGETS, widget())
    for content_type in ("text/plain", "application/json", "application/apply-patch+cbor"):
        reply = await kube.request("PATCH", W1, {"spec": {}}, content_type=content_type)
        assert reply.status == 415, content_type


async def test_A1_apply_creates_then_merges_and_requires_field_manager(kube: Http) -> None:
    body = widget(spec={"color": "blue"})
    missing = await kube.apply(W1, body)
    assert missing.status == 422
    assert missing.fields() == ["fieldManager"]
    created = await kube.apply(W1, body, fieldManager="alice")
    assert created.status == 201
    assert created.body["spec"] == {"size": 3, "color": "blue"}
    await kube.merge(W1, {"metadata": {"labels": {"kept": "yes"}}})
    merged = await kube.apply(W1, widget(size=5), fieldManager="alice")
    assert merged.status == 200
    assert merged.body["spec"]["size"] == 5
    assert merged.body["metadata"]["labels"] == {"kept": "yes"}
    yaml_body = b"apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w1\nspec:\n  size: 6\n"
    reply = await kube.request(
        "PATCH",
        W1,
        raw=yaml_body,
        content_type="application/apply-patch+yaml",
        params={"fieldManager": "alice"},
    )
    assert reply.body["spec"]["size"] == 6


async def test_A2_apply_conflict_between_managers_and_force(kube: Http) -> None:
    await kube.apply(W1, widget(size=3), fieldManager="alice")
    conflict = await kube.apply(W1, widget(size=4), fieldManager="bob")
    assert conflict.status == 409
    assert conflict.reason == "Conflict"
    assert ".spec.size" in conflict.fields()
    same_value = await kube.apply(W1, widget(size=3), fieldManager="bob")
    assert same_value.status == 200
    forced = await kube.apply(W1, widget(size=4), fieldManager="carol", force="true")
    assert forced.status == 200
    assert forced.body["spec"]["size"] == 4
    back = await kube.apply(W1, widget(size=5), fieldManager="carol")
    assert back.status == 200


async def test_A3_omitted_fields_removed_and_managed_fields_written(kube: Http) -> None:
    first = await kube.apply(W1, widget(spec={"code": "AB1", "tags": ["x"]}), fieldManager="alice")
    managed = first.body["metadata"]["managedFields"]
    assert managed[0]["manager"] == "alice"
    assert managed[0]["operation"] == "Apply"
    assert "f:code" in managed[0]["fieldsV1"]["f:spec"]
    second = await kube.apply(W1, widget(spec={"tags": ["x"]}), fieldManager="alice")
    assert "code" not in second.body["spec"]
    await kube.apply(W1, widget(spec={"tags": ["x"], "note": "mine"}), fieldManager="bob")
    third = await kube.apply(W1, widget(spec={"note": "mine"}), fieldManager="alice")
    assert third.body["spec"]["tags"] == ["x"]  # bob still owns tags


async def test_A_apply_to_status_subresource(kube: Http) -> None:
    await kube.apply(W1, widget(), fieldManager="alice")
    status = await kube.apply(f"{W1}/status", {**widget(), "status": {"phase": "Ready"}}, fieldManager="ctrl")
    assert status.status == 200
    assert status.body["status"] == {"phase": "Ready"}


async def test_P4_apply_patch_content_type_routes_to_server_side_apply(kube: Http) -> None:
    reply = await kube.request(
        "PATCH",
        W1,
        raw=b"apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w1\nspec:\n  size: 2\n",
        content_type="application/apply-patch+yaml; charset=utf-8",
        params={"fieldManager": "yaml-user", "fieldValidation": "Strict"},
    )
    assert reply.status == 201
    assert reply.body["metadata"]["managedFields"][0]["manager"] == "yaml-user"
    malformed = await kube.request(
        "PATCH",
        W1,
        raw=b"spec: [unclosed",
        content_type="application/apply-patch+yaml",
        params={"fieldManager": "m"},
    )
    assert malformed.status == 400
    no_kind = await kube.request(
        "PATCH",
        W1,
        raw=b"metadata:\n  name: w1\n",
        content_type="application/apply-patch+yaml",
        params={"fieldManager": "m"},
    )
    assert no_kind.status == 400


async def test_A4_lists_are_atomic_and_update_managers_untracked(kube: Http) -> None:
    await kube.apply(W1, widget(spec={"tags": ["a", "b"]}), fieldManager="alice")
    await kube.apply(W1, widget(spec={"tags": ["a", "b"]}), fieldManager="bob")
    # Both managers own the whole list; changing it as either is a conflict with the other.
    conflict = await kube.apply(W1, widget(spec={"tags": ["a", "c"]}), fieldManager="alice")
    assert conflict.status == 409
    assert ".spec.tags" in conflict.fields()
    # A merge-patch writer causes no apply conflict. kube-apiserver records it as an Update manager; the
    # emulator does not track those (README).
    await kube.merge(W1, {"spec": {"note": "from an update"}})
    managers = {m["manager"] for m in (await kube.get(W1)).body["metadata"]["managedFields"]}
    assert {"alice", "bob"} <= managers
