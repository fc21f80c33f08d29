"""Lists (L1-L5) and watches (W1-W9)."""

from __future__ import annotations

import time

import pytest
from conftest import WIDGETS, Http, widget

from twilio_operator.sandbox.kube import KubeEmulator

ALL_WIDGETS = "/apis/example.com/v1/widgets"


async def _namespace(kube: Http, name: str) -> None:
    assert (await kube.post("/api/v1/namespaces", {"metadata": {"name": name}})).status == 201


async def _seed(kube: Http) -> None:
    await _namespace(kube, "other")
    for name, labels in (("c", {"app": "x", "tier": "web"}), ("a", {"app": "y"}), ("b", {})):
        await kube.post(WIDGETS, widget(name=name, metadata={"labels": labels}))
    await kube.post(
        "/apis/example.com/v1/namespaces/other/widgets", widget(name="a", metadata={"labels": {"app": "x"}})
    )


def names(reply_body: dict[str, object]) -> list[str]:
    return [item["metadata"]["name"] for item in reply_body["items"]]  # type: ignore[attr-defined]


async def test_L1_list_kind_api_version_and_current_rv(kube: Http) -> None:
    await kube.post(WIDGETS, widget())
    later = await kube.post("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "later"}})
    reply = await kube.get(WIDGETS)
    assert reply.body["kind"] == "WidgetList"
    assert reply.body["apiVersion"] == "example.com/v1"
    # The list's version is the store's, not the newest widget's: it counts the later ConfigMap too.
    assert int(reply.body["metadata"]["resourceVersion"]) >= int(later.body["metadata"]["resourceVersion"])
    namespaces = await kube.get("/api/v1/namespaces")
    assert namespaces.body["kind"] == "NamespaceList"
    assert namespaces.body["apiVersion"] == "v1"


async def test_L2_namespaced_and_cluster_wide_lists(kube: Http) -> None:
    await _seed(kube)
    assert names((await kube.get(WIDGETS)).body) == ["a", "b", "c"]
    cluster = (await kube.get(ALL_WIDGETS)).body
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in cluster["items"]] == [
        ("default", "a"),
        ("default", "b"),
        ("default", "c"),
        ("other", "a"),
    ]


async def test_L2a_items_sorted_by_namespace_then_name(kube: Http) -> None:
    await _seed(kube)
    items = (await kube.get(ALL_WIDGETS)).body["items"]
    keys = [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in items]
    assert keys == sorted(keys)


async def test_L3_label_selectors(kube: Http) -> None:
    await _seed(kube)
    cases = {
        "app=x": ["c"],
        "app==x": ["c"],
        "app!=x": ["a", "b"],
        "app in (x,y)": ["a", "c"],
        "app notin (x)": ["a", "b"],
        "app": ["a", "c"],
        "!app": ["b"],
        "app=x,tier=web": ["c"],
        "app,!tier": ["a"],
    }
    for selector, expected in cases.items():
        assert names((await kube.get(WIDGETS, labelSelector=selector)).body) == expected, selector
    for bad in ("app in (x", "app=(", "=x", "a b", "app in x"):
        reply = await kube.get(WIDGETS, labelSelector=bad)
        assert reply.status == 400, bad
        assert reply.reason == "BadRequest"


async def test_L4_field_selectors(kube: Http) -> None:
    await _seed(kube)
    assert names((await kube.get(WIDGETS, fieldSelector="metadata.name=b")).body) == ["b"]
    assert names((await kube.get(WIDGETS, fieldSelector="metadata.name==b")).body) == ["b"]
    assert names((await kube.get(WIDGETS, fieldSelector="metadata.name!=b")).body) == ["a", "c"]
    other = (await kube.get(ALL_WIDGETS, fieldSelector="metadata.namespace=other")).body
    assert [i["metadata"]["namespace"] for i in other["items"]] == ["other"]
    unsupported = await kube.get(WIDGETS, fieldSelector="spec.size=3")
    assert unsupported.status == 400
    assert unsupported.reason == "BadRequest"
    secrets = "/api/v1/namespaces/default/secrets"
    await kube.post(secrets, {"metadata": {"name": "tls"}, "type": "Opaque"})
    assert len((await kube.get(secrets, fieldSelector="type=Opaque")).body["items"]) == 1


async def test_L5_pagination_returns_pages_of_one_snapshot(kube: Http) -> None:
    await _seed(kube)
    first = (await kube.get(WIDGETS, limit="2")).body
    assert names(first) == ["a", "b"]
    token = first["metadata"]["continue"]
    assert first["metadata"]["remainingItemCount"] == 1
    await kube.post(WIDGETS, widget(name="bb"))
    await kube.delete(f"{WIDGETS}/c")
    second = (await kube.get(WIDGETS, limit="2", **{"continue": token})).body
    assert names(second) == ["c"]
    assert not second["metadata"].get("continue")  # kube-apiserver sends "" for custom resources
    assert second["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    assert (await kube.get(WIDGETS, **{"continue": "garbage!"})).status == 400


async def test_W1_watch_streams_ndjson_with_json_content_type(kube: Http) -> None:
    async def create() -> None:
        await kube.post(WIDGETS, widget())

    listing = (await kube.get(WIDGETS)).body
    events, headers = await kube.watch(
        WIDGETS, params={"resourceVersion": listing["metadata"]["resourceVersion"]}, count=1, during=create
    )
    assert headers["Content-Type"] == "application/json"
    assert events[0]["type"] == "ADDED"
    assert events[0]["object"]["metadata"]["name"] == "w1"
    cluster, _ = await kube.watch(ALL_WIDGETS, count=1)
    assert cluster[0]["type"] == "ADDED"


async def test_W2_watch_without_rv_sends_current_objects_first(kube: Http) -> None:
    await _seed(kube)

    async def change() -> None:
        await kube.merge(f"{WIDGETS}/a", {"spec": {"size": 7}})

    events, _ = await kube.watch(WIDGETS, count=4, during=change)
    assert [e["type"] for e in events] == ["ADDED", "ADDED", "ADDED", "MODIFIED"]
    zero, _ = await kube.watch(WIDGETS, params={"resourceVersion": "0"}, count=3)
    assert [e["type"] for e in zero] == ["ADDED", "ADDED", "ADDED"]


async def test_W3_watch_from_rv_replays_only_newer_events(kube: Http) -> None:
    await kube.post(WIDGETS, widget(name="old"))
    mark = (await kube.get(WIDGETS)).body["metadata"]["resourceVersion"]
    await kube.post(WIDGETS, widget(name="new"))
    await kube.merge(f"{WIDGETS}/old", {"spec": {"size": 9}})
    events, _ = await kube.watch(WIDGETS, params={"resourceVersion": mark}, count=2)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "new"),
        ("MODIFIED", "old"),
    ]
    nothing, _ = await kube.watch(
        WIDGETS, params={"resourceVersion": events[-1]["object"]["metadata"]["resourceVersion"]}, limit=0.3
    )
    assert nothing == []


@pytest.mark.emulator_only("compaction is a /__sandbox/ control endpoint")
async def test_W4_expired_rv_gives_410_error_event_and_expired_continue(kube: Http) -> None:
    await kube.post(WIDGETS, widget(name="a"))
    await kube.post(WIDGETS, widget(name="b"))
    page = (await kube.get(WIDGETS, limit="1")).body
    old = page["metadata"]["resourceVersion"]
    compacted = await kube.request("POST", "/__sandbox/compact")
    assert compacted.status == 200
    events, _ = await kube.watch(WIDGETS, params={"resourceVersion": old}, limit=2)
    assert len(events) == 1
    assert events[0]["type"] == "ERROR"
    assert events[0]["object"]["code"] == 410
    assert events[0]["object"]["reason"] == "Expired"
    expired = await kube.get(WIDGETS, limit="1", **{"continue": page["metadata"]["continue"]})
    assert expired.status == 410
    assert expired.reason == "Expired"
    fresh = (await kube.get(WIDGETS)).body["metadata"]["resourceVersion"]
    resumed, _ = await kube.watch(WIDGETS, params={"resourceVersion": fresh}, limit=0.3)
    assert resumed == []


@pytest.mark.emulator_only("starts an emulator with a five-event window")
async def test_W4_event_window_overflow_expires_old_versions(http: Http) -> None:
    small = KubeEmulator(event_window=5)
    url = await small.start()
    try:
        client = Http(http.session, url)
        first = await client.post("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "c0"}})
        start = first.body["metadata"]["resourceVersion"]
        for i in range(1, 10):
            await client.post("/api/v1/namespaces/default/configmaps", {"metadata": {"name": f"c{i}"}})
        events, _ = await client.watch(
            "/api/v1/namespaces/default/configmaps", params={"resourceVersion": start}, limit=2
        )
        assert events[0]["type"] == "ERROR"
        assert events[0]["object"]["code"] == 410
    finally:
        await small.stop()


async def test_W5_selector_transitions(kube: Http) -> None:
    await kube.post(WIDGETS, widget(name="w", metadata={"labels": {"app": "x"}}))
    mark = (await kube.get(WIDGETS)).body["metadata"]["resourceVersion"]

    async def relabel() -> None:
        await kube.merge(f"{WIDGETS}/w", {"metadata": {"labels": {"app": "y"}}})
        await kube.merge(f"{WIDGETS}/w", {"metadata": {"labels": {"app": "x"}}})
        await kube.merge(f"{WIDGETS}/w", {"spec": {"size": 4}})

    events, _ = await kube.watch(
        WIDGETS, params={"resourceVersion": mark, "labelSelector": "app=x"}, count=3, during=relabel
    )
    assert [e["type"] for e in events] == ["DELETED", "ADDED", "MODIFIED"]
    # Leaving the selector shows the last matching content at the new resourceVersion.
    assert events[0]["object"]["metadata"]["labels"] == {"app": "x"}
    assert int(events[0]["object"]["metadata"]["resourceVersion"]) > int(mark)
    named, _ = await kube.watch(WIDGETS, params={"fieldSelector": "metadata.name=w"}, count=1)
    assert named[0]["object"]["metadata"]["name"] == "w"


@pytest.mark.emulator_only("the bookmark interval is an emulator setting; kube-apiserver sends one a minute")
async def test_W6_bookmarks(kube: Http) -> None:
    current = (await kube.get(WIDGETS)).body["metadata"]["resourceVersion"]
    events, _ = await kube.watch(
        WIDGETS, params={"allowWatchBookmarks": "true", "resourceVersion": current}, count=1, limit=3
    )
    assert events[0]["type"] == "BOOKMARK"
    bookmark = events[0]["object"]
    assert set(bookmark) == {"kind", "apiVersion", "metadata"}
    assert set(bookmark["metadata"]) == {"resourceVersion"}
    assert int(bookmark["metadata"]["resourceVersion"]) >= int(current)
    quiet, _ = await kube.watch(WIDGETS, params={"resourceVersion": current}, limit=0.5)
    assert quiet == []


async def test_W7_send_initial_events_then_end_bookmark(kube: Http) -> None:
    await kube.post(WIDGETS, widget(name="a"))
    params = {
        "sendInitialEvents": "true",
        "resourceVersionMatch": "NotOlderThan",
        "allowWatchBookmarks": "true",
    }
    events, _ = await kube.watch(WIDGETS, params=params, count=2)
    assert events[0]["type"] == "ADDED"
    assert events[1]["type"] == "BOOKMARK"
    assert events[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    bad, _ = await kube.watch(WIDGETS, params={"sendInitialEvents": "true"}, count=1)
    assert bad[0]["status"] == 422


async def test_W8_timeout_seconds_ends_stream(kube: Http) -> None:
    current = (await kube.get(WIDGETS)).body["metadata"]["resourceVersion"]
    started = time.monotonic()
    events, _ = await kube.watch(WIDGETS, params={"timeoutSeconds": "1", "resourceVersion": current}, limit=5)
    elapsed = time.monotonic() - started
    assert events == []
    assert 0.9 <= elapsed < 3


async def test_W9_deleted_event_has_last_state_and_ordered_versions(kube: Http) -> None:
    created = (await kube.post(WIDGETS, widget(metadata={"labels": {"k": "v"}}))).body

    async def churn() -> None:
        for size in (4, 5, 6):
            await kube.merge(f"{WIDGETS}/w1", {"spec": {"size": size}})
        await kube.delete(f"{WIDGETS}/w1")

    events, _ = await kube.watch(
        WIDGETS, params={"resourceVersion": created["metadata"]["resourceVersion"]}, count=4, during=churn
    )
    deleted = events[-1]
    assert deleted["type"] == "DELETED"
    assert deleted["object"]["spec"]["size"] == 6
    assert deleted["object"]["metadata"]["labels"] == {"k": "v"}
    versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert versions == sorted(set(versions))


async def test_watch_single_object_by_legacy_watch_path(kube: Http) -> None:
    await kube.post(WIDGETS, widget())
    events, _ = await kube.watch("/apis/example.com/v1/watch/namespaces/default/widgets/w1", count=1)
    assert events[0]["type"] == "ADDED"
