"""Deletion and finalizers (F1-F6), garbage collection (G1-G5), namespaces (N1-N2), CRD removal (R3)."""

from __future__ import annotations

import asyncio
from typing import Any

from conftest import GC_LIMIT, WIDGETS, Http, eventually, widget

W1 = f"{WIDGETS}/w1"
SECRETS = "/api/v1/namespaces/default/secrets"
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


def owner_ref(owner: dict[str, Any], block: bool = True, controller: bool = True) -> dict[str, Any]:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": controller,
        "blockOwnerDeletion": block,
    }


async def test_F1_delete_without_finalizers_is_immediate(kube: Http) -> None:
    created = (await kube.post(WIDGETS, widget())).body

    async def delete() -> None:
        await kube.delete(W1)

    events, _ = await kube.watch(
        WIDGETS, params={"resourceVersion": created["metadata"]["resourceVersion"]}, count=1, during=delete
    )
    assert events[0]["type"] == "DELETED"
    assert (await kube.get(W1)).status == 404


async def test_F2_delete_with_finalizer_marks_object(kube: Http) -> None:
    created = (await kube.post(WIDGETS, widget(metadata={"finalizers": ["example.com/hold"]}))).body
    reply = await kube.delete(W1)
    assert reply.status == 200
    current = (await kube.get(W1)).body
    meta = current["metadata"]
    assert meta["deletionTimestamp"]
    assert meta["deletionGracePeriodSeconds"] == 0
    assert meta["generation"] == 2
    assert int(meta["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    events, _ = await kube.watch(
        WIDGETS, params={"resourceVersion": created["metadata"]["resourceVersion"]}, count=1
    )
    assert events[0]["type"] == "MODIFIED"
    assert events[0]["object"]["metadata"]["deletionTimestamp"]


async def test_F3_delete_responses(kube: Http) -> None:
    await kube.post(WIDGETS, widget(name="plain"))
    gone = await kube.delete(f"{WIDGETS}/plain")
    assert gone.status == 200
    assert gone.body["kind"] in ("Status", "Widget")
    if gone.body["kind"] == "Status":
        assert gone.body["status"] == "Success"
    await kube.post(WIDGETS, widget(name="held", metadata={"finalizers": ["example.com/hold"]}))
    marked = await kube.delete(f"{WIDGETS}/held")
    assert marked.status == 200
    assert marked.body["metadata"]["deletionTimestamp"]
    await kube.post(WIDGETS, widget(name="held2", metadata={"finalizers": ["example.com/hold"]}))
    accepted = await kube.delete(f"{WIDGETS}/held2", orphanDependents="false")
    assert accepted.status == 202


async def test_F4_removing_last_finalizer_completes_deletion(kube: Http) -> None:
    await kube.post(WIDGETS, widget(metadata={"finalizers": ["example.com/a", "example.com/b"]}))
    await kube.delete(W1)
    one_left = await kube.merge(W1, {"metadata": {"finalizers": ["example.com/b"]}})
    assert one_left.status == 200
    assert (await kube.get(W1)).status == 200
    current = (await kube.get(W1)).body
    current["metadata"]["finalizers"] = []
    final = await kube.put(W1, current)
    assert final.status == 200
    assert (await kube.get(W1)).status == 404


async def test_F5_no_new_finalizers_on_deleting_object(kube: Http) -> None:
    await kube.post(WIDGETS, widget(metadata={"finalizers": ["example.com/a"]}))
    await kube.delete(W1)
    reply = await kube.merge(W1, {"metadata": {"finalizers": ["example.com/a", "example.com/new"]}})
    assert reply.status == 422
    assert "metadata.finalizers" in reply.fields()
    cleared = await kube.merge(W1, {"metadata": {"deletionTimestamp": None}})
    assert cleared.body["metadata"]["deletionTimestamp"]


async def test_F6_repeated_and_missing_deletes(kube: Http) -> None:
    await kube.post(WIDGETS, widget(metadata={"finalizers": ["example.com/a"]}))
    first = (await kube.delete(W1)).body
    again = await kube.delete(W1)
    assert again.status == 200
    assert again.body["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    missing = await kube.delete(f"{WIDGETS}/nope")
    assert missing.status == 404
    assert missing.reason == "NotFound"


async def test_G1_dangling_owner_reference_collected(kube: Http) -> None:
    owner = (await kube.post(WIDGETS, widget(name="owner"))).body
    stale = {**owner_ref(owner), "uid": "00000000-0000-0000-0000-000000000000"}
    await kube.post(SECRETS, {"metadata": {"name": "orphaned", "ownerReferences": [stale]}})
    await kube.post(SECRETS, {"metadata": {"name": "owned", "ownerReferences": [owner_ref(owner)]}})
    await kube.settle_gc()
    await kube.gone(f"{SECRETS}/orphaned")
    assert (await kube.get(f"{SECRETS}/owned")).status == 200


async def test_G1_recreated_owner_has_new_uid(kube: Http) -> None:
    owner = (await kube.post(WIDGETS, widget(name="owner"))).body
    await kube.post(SECRETS, {"metadata": {"name": "child", "ownerReferences": [owner_ref(owner)]}})
    await kube.delete(f"{WIDGETS}/owner")
    await kube.post(WIDGETS, widget(name="owner"))
    await kube.settle_gc()
    await kube.gone(f"{SECRETS}/child")


async def test_G2_background_owner_first_then_dependents(kube: Http) -> None:
    owner = (
        await kube.post(WIDGETS, widget(name="owner", metadata={"finalizers": ["example.com/hold"]}))
    ).body
    await kube.post(SECRETS, {"metadata": {"name": "child", "ownerReferences": [owner_ref(owner)]}})
    await kube.delete(f"{WIDGETS}/owner")
    await kube.settle_gc()
    assert (await kube.get(f"{SECRETS}/child")).status == 200  # owner still there, finalizer pending
    await kube.merge(f"{WIDGETS}/owner", {"metadata": {"finalizers": None}})
    await kube.settle_gc()
    await kube.gone(f"{WIDGETS}/owner")
    await kube.gone(f"{SECRETS}/child")


async def test_G3_foreground_deletes_blocking_dependents_first(kube: Http) -> None:
    owner = (await kube.post(WIDGETS, widget(name="owner"))).body
    await kube.post(
        SECRETS,
        {
            "metadata": {
                "name": "blocker",
                "ownerReferences": [owner_ref(owner)],
                "finalizers": ["example.com/hold"],
            }
        },
    )
    await kube.post(
        CONFIGMAPS, {"metadata": {"name": "plain", "ownerReferences": [owner_ref(owner, block=False)]}}
    )
    reply = await kube.delete(f"{WIDGETS}/owner", propagationPolicy="Foreground")
    assert "foregroundDeletion" in reply.body["metadata"]["finalizers"]
    await kube.settle_gc()
    await kube.gone(f"{CONFIGMAPS}/plain")

    async def blocker_deleting() -> bool:
        return bool((await kube.get(f"{SECRETS}/blocker")).body["metadata"].get("deletionTimestamp"))

    await eventually(blocker_deleting, limit=GC_LIMIT)
    assert (await kube.get(f"{WIDGETS}/owner")).status == 200  # waits for the blocking dependent
    await kube.merge(f"{SECRETS}/blocker", {"metadata": {"finalizers": None}})
    await kube.settle_gc()
    await kube.gone(f"{WIDGETS}/owner")


async def test_G4_orphan_keeps_dependents_and_strips_owner_reference(kube: Http) -> None:
    owner = (await kube.post(WIDGETS, widget(name="owner"))).body
    other = (await kube.post(WIDGETS, widget(name="other"))).body
    refs = [owner_ref(owner), owner_ref(other, block=False, controller=False)]
    assert (await kube.post(SECRETS, {"metadata": {"name": "child", "ownerReferences": refs}})).status == 201
    await kube.delete(
        f"{WIDGETS}/owner", body={"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Orphan"}
    )
    await kube.settle_gc()
    await kube.gone(f"{WIDGETS}/owner")
    child = (await kube.get(f"{SECRETS}/child")).body
    assert [ref["name"] for ref in child["metadata"]["ownerReferences"]] == ["other"]


async def test_G5_gc_of_many_dependents_settles_quickly(kube: Http) -> None:
    owners = []
    for i in range(50):
        owners.append((await kube.post(WIDGETS, widget(name=f"o{i}"))).body)
    await asyncio.gather(
        *(
            kube.post(SECRETS, {"metadata": {"name": f"s{i}-{j}", "ownerReferences": [owner_ref(o)]}})
            for i, o in enumerate(owners)
            for j in range(4)
        )
    )
    await asyncio.gather(*(kube.delete(f"{WIDGETS}/o{i}") for i in range(50)))
    await kube.settle_gc()

    async def all_collected() -> bool:
        return (await kube.get(SECRETS)).body["items"] == []

    await eventually(all_collected, limit=GC_LIMIT)


async def test_G5_gc_runs_without_being_asked(kube: Http) -> None:
    owner = (await kube.post(WIDGETS, widget(name="owner"))).body
    await kube.post(SECRETS, {"metadata": {"name": "child", "ownerReferences": [owner_ref(owner)]}})
    await kube.delete(f"{WIDGETS}/owner")

    async def gone() -> bool:
        return (await kube.get(f"{SECRETS}/child")).status == 404

    await eventually(gone, limit=GC_LIMIT)


async def test_N1_initial_namespaces(http: Http) -> None:
    listing = (await http.get("/api/v1/namespaces")).body
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= {
        i["metadata"]["name"] for i in listing["items"]
    }
    default = await http.get("/api/v1/namespaces/default")
    assert default.status == 200
    assert default.body["status"]["phase"] == "Active"
    events, _ = await http.watch("/api/v1/namespaces", count=4)
    assert {e["type"] for e in events} == {"ADDED"}


async def test_N2_namespace_deletion_cascades_honouring_finalizers(kube: Http) -> None:
    await kube.post("/api/v1/namespaces", {"metadata": {"name": "team"}})
    path = "/apis/example.com/v1/namespaces/team/widgets"
    await kube.post(path, widget(name="held", metadata={"finalizers": ["example.com/hold"]}))
    await kube.post(path, widget(name="free"))
    await kube.post("/api/v1/namespaces/team/secrets", {"metadata": {"name": "s"}})
    deleted = await kube.delete("/api/v1/namespaces/team")
    assert deleted.status == 200
    await kube.settle_gc()
    ns = (await kube.get("/api/v1/namespaces/team")).body
    assert ns["status"]["phase"] == "Terminating"
    await kube.gone(f"{path}/free")
    await kube.gone("/api/v1/namespaces/team/secrets/s")

    async def held_deleting() -> bool:
        return bool((await kube.get(f"{path}/held")).body["metadata"].get("deletionTimestamp"))

    await eventually(held_deleting, limit=GC_LIMIT)
    await kube.merge(f"{path}/held", {"metadata": {"finalizers": None}})
    await kube.settle_gc()
    await kube.gone("/api/v1/namespaces/team")


async def test_N2_protected_namespaces_cannot_be_deleted(http: Http) -> None:
    reply = await http.delete("/api/v1/namespaces/default")
    assert reply.status == 403
    assert reply.reason == "Forbidden"


async def test_R3_crd_deletion_removes_instances_and_discovery(kube: Http) -> None:
    await kube.post(WIDGETS, widget(name="held", metadata={"finalizers": ["example.com/hold"]}))
    await kube.post(WIDGETS, widget(name="free"))
    crd = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com"
    assert (await kube.delete(crd)).status == 200
    await kube.settle_gc()

    async def terminating() -> bool:
        conditions = (await kube.get(crd)).body["status"]["conditions"]
        return any(c["type"] == "Terminating" and c["status"] == "True" for c in conditions)

    await eventually(terminating, limit=GC_LIMIT)
    await kube.gone(f"{WIDGETS}/free")
    create = await kube.post(WIDGETS, widget(name="late"))
    assert create.status == 403
    assert create.reason == "Forbidden"
    await kube.merge(f"{WIDGETS}/held", {"metadata": {"finalizers": None}})
    await kube.settle_gc()
    await kube.gone(crd)
    await kube.gone("/apis/example.com/v1")
    await kube.gone(WIDGETS)
