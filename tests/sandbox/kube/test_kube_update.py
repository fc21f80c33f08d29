"""Updates, optimistic concurrency (U1-U6) and the status subresource (S1-S5)."""

from __future__ import annotations

import asyncio

from conftest import WIDGETS, Http, widget, widget_crd

W1 = f"{WIDGETS}/w1"


def rv(reply_body: dict[str, object]) -> int:
    return int(reply_body["metadata"]["resourceVersion"])  # type: ignore[index]


async def test_U1_every_changing_write_bumps_rv_and_emits_one_event(kube: Http) -> None:
    created = (await kube.post(WIDGETS, widget())).body
    start = rv(created)

    async def writes() -> None:
        await kube.merge(W1, {"spec": {"size": 4}})
        await kube.merge(f"{W1}/status", {"status": {"phase": "Ready"}})
        await kube.merge(W1, {"metadata": {"finalizers": ["example.com/f"]}})
        await kube.delete(W1)
        await kube.merge(W1, {"metadata": {"finalizers": None}})

    # Removing the last finalizer of a deleting object deletes it in that write: one DELETED event.
    events, _ = await kube.watch(WIDGETS, params={"resourceVersion": str(start)}, count=5, during=writes)
    types = [e["type"] for e in events]
    assert types == ["MODIFIED", "MODIFIED", "MODIFIED", "MODIFIED", "DELETED"]
    # It shows the object as it was last stored.
    assert events[-1]["object"]["metadata"]["finalizers"] == ["example.com/f"]
    versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert versions == sorted(versions)
    assert len(set(versions)) == len(versions)
    assert versions[0] > start


async def test_U2_noop_write_keeps_rv_and_emits_nothing(kube: Http) -> None:
    created = (await kube.post(WIDGETS, widget())).body
    same = await kube.merge(W1, {"spec": {"size": 3}})
    assert same.status == 200
    assert rv(same.body) == rv(created)
    put = await kube.put(W1, created)
    assert rv(put.body) == rv(created)

    async def noop_then_change() -> None:
        await kube.merge(W1, {"spec": {"size": 3}})
        await kube.merge(W1, {"metadata": {"labels": {"a": "b"}}})

    events, _ = await kube.watch(
        WIDGETS, params={"resourceVersion": str(rv(created))}, count=1, during=noop_then_change
    )
    assert len(events) == 1
    assert events[0]["object"]["metadata"]["labels"] == {"a": "b"}


async def test_U3_generation_tracks_spec_only(kube: Http) -> None:
    await kube.post(WIDGETS, widget())
    spec = await kube.merge(W1, {"spec": {"size": 5}})
    assert spec.body["metadata"]["generation"] == 2
    for patch in (
        {"metadata": {"labels": {"x": "y"}}},
        {"metadata": {"annotations": {"x": "y"}}},
        {"metadata": {"finalizers": ["example.com/f"]}},
    ):
        reply = await kube.merge(W1, patch)
        assert reply.body["metadata"]["generation"] == 2
    status = await kube.merge(f"{W1}/status", {"status": {"ok": True}})
    assert status.body["metadata"]["generation"] == 2


async def test_U3_without_status_subresource_status_bumps_generation(http: Http) -> None:
    await http.install_crd(widget_crd(status=False))
    await http.post(WIDGETS, widget())
    reply = await http.merge(W1, {"status": {"ok": True}})
    assert reply.body["status"] == {"ok": True}
    assert reply.body["metadata"]["generation"] == 2


async def test_U4_stale_resource_version_conflict(kube: Http) -> None:
    created = (await kube.post(WIDGETS, widget())).body
    stale = created["metadata"]["resourceVersion"]
    await kube.merge(W1, {"spec": {"size": 4}})
    merge = await kube.merge(W1, {"metadata": {"resourceVersion": stale}, "spec": {"size": 5}})
    assert merge.status == 409
    assert merge.reason == "Conflict"
    body = dict(created)
    body["spec"] = {"size": 6}
    put = await kube.put(W1, body)
    assert put.status == 409
    assert (await kube.get(W1)).body["spec"]["size"] == 4


async def test_U5_put_replace(kube: Http) -> None:
    created = (await kube.post(WIDGETS, widget())).body
    body = dict(created)
    body["spec"] = {"size": 9}
    reply = await kube.put(W1, body)
    assert reply.status == 200
    assert reply.body["spec"]["size"] == 9
    assert reply.body["metadata"]["generation"] == 2
    unconditional = dict(reply.body)
    unconditional["metadata"] = {k: v for k, v in reply.body["metadata"].items() if k != "resourceVersion"}
    missing_rv = await kube.put(W1, unconditional)
    assert missing_rv.status == 422
    assert "metadata.resourceVersion" in missing_rv.fields()
    absent = await kube.put(f"{WIDGETS}/nope", {**body, "metadata": {"name": "nope", "resourceVersion": "1"}})
    assert absent.status == 404
    mismatch = await kube.put(W1, {**body, "metadata": {**body["metadata"], "name": "other"}})
    assert mismatch.status == 400


async def test_U5_builtin_put_without_resource_version_is_allowed(kube: Http) -> None:
    path = "/api/v1/namespaces/default/configmaps"
    await kube.post(path, {"metadata": {"name": "c"}, "data": {"a": "1"}})
    reply = await kube.put(
        f"{path}/c", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "2"}}
    )
    assert reply.status == 200
    assert reply.body["data"] == {"a": "2"}


async def test_U6_delete_preconditions(kube: Http) -> None:
    created = (await kube.post(WIDGETS, widget())).body
    wrong_uid = await kube.delete(
        W1, {"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"uid": "nope"}}
    )
    assert wrong_uid.status == 409
    assert wrong_uid.reason == "Conflict"
    wrong_rv = await kube.delete(W1, {"preconditions": {"resourceVersion": "1"}})
    assert wrong_rv.status == 409
    right = await kube.delete(
        W1,
        {
            "preconditions": {
                "uid": created["metadata"]["uid"],
                "resourceVersion": created["metadata"]["resourceVersion"],
            }
        },
    )
    assert right.status == 200


async def test_S1_main_endpoint_ignores_status(kube: Http) -> None:
    await kube.post(WIDGETS, widget(status={"phase": "Fake"}))
    assert "status" not in (await kube.get(W1)).body
    await kube.merge(f"{W1}/status", {"status": {"phase": "Real"}})
    reply = await kube.merge(W1, {"status": {"phase": "Hacked"}, "spec": {"size": 4}})
    assert reply.body["status"] == {"phase": "Real"}
    assert reply.body["spec"]["size"] == 4
    current = (await kube.get(W1)).body
    current["status"] = {"phase": "Hacked again"}
    put = await kube.put(W1, current)
    assert put.body["status"] == {"phase": "Real"}


async def test_S2_status_endpoint_changes_only_status(kube: Http) -> None:
    await kube.post(WIDGETS, widget())
    reply = await kube.merge(
        f"{W1}/status",
        {"status": {"phase": "Ready"}, "spec": {"size": 9}, "metadata": {"labels": {"x": "y"}}},
    )
    assert reply.status == 200
    assert reply.body["status"] == {"phase": "Ready"}
    assert reply.body["spec"]["size"] == 3
    assert "labels" not in reply.body["metadata"]
    current = reply.body
    current["spec"] = {"size": 7}
    current["status"] = {"phase": "Done"}
    put = await kube.put(f"{W1}/status", current)
    assert put.body["status"] == {"phase": "Done"}
    assert put.body["spec"]["size"] == 3


async def test_S3_get_status_returns_whole_object(kube: Http) -> None:
    await kube.post(WIDGETS, widget())
    reply = await kube.get(f"{W1}/status")
    assert reply.status == 200
    assert reply.body["kind"] == "Widget"
    assert reply.body["spec"]["size"] == 3


async def test_S4_status_write_bumps_rv_not_generation_and_honours_preconditions(kube: Http) -> None:
    created = (await kube.post(WIDGETS, widget())).body
    status = await kube.merge(f"{W1}/status", {"status": {"n": 1}})
    assert rv(status.body) > rv(created)
    assert status.body["metadata"]["generation"] == 1
    stale = await kube.merge(
        f"{W1}/status",
        {"metadata": {"resourceVersion": created["metadata"]["resourceVersion"]}, "status": {"n": 2}},
    )
    assert stale.status == 409


async def test_S5_without_subresource_status_is_ordinary_field(http: Http) -> None:
    await http.install_crd(widget_crd(status=False))
    created = await http.post(WIDGETS, widget(status={"phase": "Set"}))
    assert created.body["status"] == {"phase": "Set"}
    assert (await http.get(f"{W1}/status")).status == 404
    discovery = await http.get("/apis/example.com/v1")
    assert not any(r["name"] == "widgets/status" for r in discovery.body["resources"])


async def test_updates_cannot_touch_deletion_timestamp_or_identity(kube: Http) -> None:
    created = (await kube.post(WIDGETS, widget())).body
    # Changing the uid or setting a deletionTimestamp is refused; a creationTimestamp is quietly kept.
    forged = await kube.merge(
        W1, {"metadata": {"uid": "forged", "deletionTimestamp": "2020-01-01T00:00:00Z"}}
    )
    assert forged.status == 422
    assert set(forged.fields()) == {"metadata.uid", "metadata.deletionTimestamp"}
    reply = await kube.merge(W1, {"metadata": {"creationTimestamp": "2000-01-01T00:00:00Z", "uid": None}})
    assert reply.status == 200
    meta = reply.body["metadata"]
    assert "deletionTimestamp" not in meta
    assert meta["uid"] == created["metadata"]["uid"]
    assert meta["creationTimestamp"] == created["metadata"]["creationTimestamp"]


async def test_concurrent_writers_serialise(kube: Http) -> None:
    await kube.post(WIDGETS, widget())

    async def label(i: int) -> int:
        return (await kube.merge(W1, {"metadata": {"labels": {f"k{i}": "v"}}})).status

    statuses = await asyncio.gather(*(label(i) for i in range(20)))
    assert statuses == [200] * 20
    labels = (await kube.get(W1)).body["metadata"]["labels"]
    assert len(labels) == 20
