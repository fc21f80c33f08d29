"""Error bodies (E1, E2), performance structure (X1, X2) and the /__sandbox/ control endpoints."""

from __future__ import annotations

import asyncio

import pytest
from conftest import WIDGETS, Http, widget

from twilio_operator.sandbox.kube import KubeEmulator

W1 = f"{WIDGETS}/w1"


def assert_status_body(body: dict[str, object], code: int, reason: str) -> None:
    assert body["kind"] == "Status"
    assert body["apiVersion"] == "v1"
    assert body["metadata"] == {}
    assert body["status"] == "Failure"
    assert isinstance(body["message"], str)
    assert body["reason"] == reason
    assert body["code"] == code


async def test_E1_every_error_is_a_status_body(kube: Http) -> None:
    reply = await kube.get(f"{WIDGETS}/missing")
    assert reply.headers["Content-Type"] == "application/json"
    assert_status_body(reply.body, 404, "NotFound")
    assert reply.body["details"]["name"] == "missing"


async def test_E2_reasons_by_code_and_no_500_for_client_mistakes(kube: Http) -> None:
    await kube.post(WIDGETS, widget())
    cases = [
        (
            await kube.request("POST", WIDGETS, raw=b"{oops", content_type="application/json"),
            400,
            "BadRequest",
        ),
        (await kube.delete("/api/v1/namespaces/kube-system"), 403, "Forbidden"),
        (await kube.get(f"{WIDGETS}/nope"), 404, "NotFound"),
        (await kube.request("PUT", WIDGETS, widget()), 400, "BadRequest"),  # "name must be provided"
        (await kube.merge(WIDGETS, {}), 400, "BadRequest"),
        (await kube.post(WIDGETS, widget()), 409, "AlreadyExists"),
        (await kube.merge(W1, {"metadata": {"resourceVersion": "1"}}), 409, "Conflict"),
        (await kube.request("PATCH", W1, {}, content_type="text/plain"), 415, "UnsupportedMediaType"),
        (await kube.post(WIDGETS, widget(name="x", size=0)), 422, "Invalid"),
        (await kube.request("POST", WIDGETS, raw=b"[1,2]"), 400, "BadRequest"),
        (await kube.request("POST", WIDGETS, raw=b'"just a string"'), 400, "BadRequest"),
        (await kube.request("POST", WIDGETS, {"metadata": "not an object"}), 400, "BadRequest"),
        (await kube.get(WIDGETS, limit="many"), 400, "BadRequest"),
        (
            await kube.request("POST", WIDGETS, raw=b"x" * (3 * 1024 * 1024 + 10)),
            413,
            "RequestEntityTooLarge",
        ),
    ]
    for reply, code, reason in cases:
        assert reply.status == code, (code, reply.body)
        assert_status_body(reply.body, code, reason)
    # kube-apiserver answers protobuf to a protobuf Accept (the emulator speaks JSON only, README).
    proto = await kube.request("GET", WIDGETS, headers={"Accept": "application/vnd.kubernetes.protobuf"})
    assert proto.status == 406
    if kube.backend == "emulator":
        assert_status_body(proto.body, 406, "NotAcceptable")
        # A resourceVersion that is not a number is a client mistake: 400. kube-apiserver answers a watch
        # with one with 500 (README).
        bad_rv = await kube.get(WIDGETS, watch="true", resourceVersion="abc")
        assert_status_body(bad_rv.body, 400, "BadRequest")


@pytest.mark.emulator_only("checks the emulator's own data structures")
async def test_X1_objects_are_indexed_not_scanned(kube: Http, emulator: KubeEmulator) -> None:
    # Structural check of the hot path: lookups go through dict indices sized by the data, not scans.
    await asyncio.gather(*(kube.post(WIDGETS, widget(name=f"w{i}")) for i in range(300)))
    store = emulator.store
    gr = emulator.registry.lookup("example.com", "v1", "widgets")
    assert gr is not None
    assert store.count(gr.gr) == 300
    assert store.get(gr.gr, "default", "w150") is not None
    uid = store.get(gr.gr, "default", "w150")["metadata"]["uid"]  # type: ignore[index]
    assert store.locate(uid) == (gr.gr, "default", "w150")
    assert store.namespace_count("default") == 300


@pytest.mark.emulator_only("checks the emulator's own data structures")
async def test_X2_request_log_bounded_and_faults_skipped_when_none(
    emulator: KubeEmulator, http: Http
) -> None:
    log = emulator.requests
    assert log._entries.maxlen == 200_000
    assert emulator.faults.active is False
    for _ in range(5):
        await http.get("/api/v1/namespaces")
    assert log.next_seq == 6


@pytest.mark.emulator_only("the request log with bodies is a /__sandbox/ control endpoint")
async def test_control_requests_log(kube: Http) -> None:
    before = (await kube.get("/__sandbox/requests")).body["next"]
    await kube.post(WIDGETS, widget(), fieldManager="me")
    await kube.merge(W1, {"metadata": {"labels": {"a": "b"}}})
    await kube.request("GET", "/api/v1/namespaces", headers={"User-Agent": "special-agent/1"})
    reply = await kube.get("/__sandbox/requests", since=str(before))
    requests = reply.body["requests"]
    assert [r["method"] for r in requests] == ["POST", "PATCH", "GET"]
    post = requests[0]
    assert post["path"] == WIDGETS
    assert post["query"] == {"fieldManager": "me"}
    assert post["status"] == 201
    assert post["body"]["spec"] == {"size": 3}
    assert post["verb"] == "create"
    assert post["resource"] == "widgets.example.com"
    patch = requests[1]
    assert patch["content_type"] == "application/merge-patch+json"
    assert patch["body"] == {"metadata": {"labels": {"a": "b"}}}
    filtered = await kube.get("/__sandbox/requests", method="PATCH", path_prefix=WIDGETS, since=str(before))
    assert len(filtered.body["requests"]) == 1
    agents = await kube.get("/__sandbox/requests", user_agent_contains="special-agent", since=str(before))
    assert [r["path"] for r in agents.body["requests"]] == ["/api/v1/namespaces"]
    assert reply.body["next"] > requests[-1]["seq"]
    assert not any(r["path"].startswith("/__sandbox") for r in requests)


@pytest.mark.emulator_only("fault injection is a /__sandbox/ control endpoint")
async def test_control_faults(kube: Http) -> None:
    added = await kube.request(
        "POST",
        "/__sandbox/faults",
        {"method": "PATCH", "path_regex": "/widgets/w1$", "status": 500, "times": 2},
    )
    assert added.status == 201
    await kube.post(WIDGETS, widget())
    first = await kube.merge(W1, {"spec": {"size": 4}})
    second = await kube.merge(W1, {"spec": {"size": 4}})
    third = await kube.merge(W1, {"spec": {"size": 4}})
    assert [first.status, second.status, third.status] == [500, 500, 200]
    assert first.reason == "InternalError"
    await kube.request(
        "POST",
        "/__sandbox/faults",
        {"method": None, "path_regex": "configmaps", "status": 429, "times": None},
    )
    throttled = await kube.get("/api/v1/namespaces/default/configmaps")
    assert throttled.status == 429
    assert throttled.headers["Retry-After"] == "1"
    assert throttled.reason == "TooManyRequests"
    listing = await kube.get("/__sandbox/faults")
    assert len(listing.body["faults"]) == 1
    cleared = await kube.request("DELETE", "/__sandbox/faults")
    assert cleared.status == 200
    assert (await kube.get("/api/v1/namespaces/default/configmaps")).status == 200
    for status in (403, 409, 410):
        await kube.request("POST", "/__sandbox/faults", {"path_regex": "secrets", "status": status})
        reply = await kube.get("/api/v1/namespaces/default/secrets")
        assert reply.status == status
    log = (await kube.get("/__sandbox/requests", path_prefix="/api/v1/namespaces/default/secrets")).body
    assert [r["status"] for r in log["requests"]] == [403, 409, 410]
    bad = await kube.request("POST", "/__sandbox/faults", {"status": 200})
    assert bad.status == 400


@pytest.mark.emulator_only("fault injection is a /__sandbox/ control endpoint")
async def test_control_fault_probability_is_seeded(kube: Http) -> None:
    async def run() -> list[int]:
        await kube.request("DELETE", "/__sandbox/faults")
        await kube.request(
            "POST",
            "/__sandbox/faults",
            {"path_regex": "configmaps", "status": 500, "times": None, "probability": 0.5, "seed": 7},
        )
        return [(await kube.get("/api/v1/namespaces/default/configmaps")).status for _ in range(20)]

    first, second = await run(), await run()
    assert first == second
    assert 500 in first and 200 in first


@pytest.mark.emulator_only("fault injection is a /__sandbox/ control endpoint")
async def test_control_drop_watch_closes_open_and_new_streams(kube: Http) -> None:
    async def drop() -> None:
        await asyncio.sleep(0.1)
        await kube.request(
            "POST", "/__sandbox/faults", {"path_regex": "widgets", "drop_watch": True, "times": 1}
        )

    started = asyncio.get_running_loop().time()
    events, _ = await kube.watch(WIDGETS, params={"resourceVersion": "1"}, limit=5, during=drop)
    assert events == []
    assert asyncio.get_running_loop().time() - started < 2
    dropped, _ = await kube.watch(WIDGETS, params={"resourceVersion": "1"}, limit=5)
    assert dropped == []
    await kube.post(WIDGETS, widget())
    normal, _ = await kube.watch(WIDGETS, count=1)
    assert normal[0]["type"] == "ADDED"
    injected_410 = await kube.request("POST", "/__sandbox/faults", {"path_regex": "widgets", "status": 410})
    assert injected_410.status == 201
    gone, _ = await kube.watch(WIDGETS, params={"resourceVersion": "1"}, limit=2)
    assert gone[0]["type"] == "ERROR"
    assert gone[0]["object"]["code"] == 410


@pytest.mark.emulator_only("compaction is a /__sandbox/ control endpoint")
async def test_control_compact_with_drop_watches(kube: Http) -> None:
    async def compact() -> None:
        await asyncio.sleep(0.1)
        reply = await kube.request("POST", "/__sandbox/compact", {"drop_watches": True})
        assert reply.status == 200

    events, _ = await kube.watch(WIDGETS, params={"resourceVersion": "1"}, limit=5, during=compact)
    assert events == []


@pytest.mark.emulator_only("settle, stats and reset are /__sandbox/ control endpoints")
async def test_control_settle_stats_and_reset(kube: Http, emulator: KubeEmulator) -> None:
    await kube.post(WIDGETS, widget())
    await kube.get(WIDGETS)
    settled = await kube.request("POST", "/__sandbox/gc/settle")
    assert settled.body == {"settled": True, "pending": 0}
    stats = (await kube.get("/__sandbox/stats")).body
    assert stats["by_verb"]["create"] == 1
    assert stats["by_verb"]["list"] == 1
    assert stats["by_method"]["POST"] == 1
    assert stats["by_status"]["201"] == 1
    assert stats["by_resource"]["widgets.example.com"] == 2
    assert int(stats["resource_version"]) == emulator.store.rv
    reset = await kube.request("POST", "/__sandbox/reset")
    assert reset.status == 200
    assert (await kube.get("/apis/example.com/v1")).status == 404
    namespaces = (await kube.get("/api/v1/namespaces")).body["items"]
    assert sorted(n["metadata"]["name"] for n in namespaces) == [
        "default",
        "kube-node-lease",
        "kube-public",
        "kube-system",
    ]


def test_X2_request_log_memory_is_bounded() -> None:
    from twilio_operator.sandbox.kube.control import MAX_LOGGED_BODY, RequestLog

    log = RequestLog(limit=3, body_budget=100)
    records = [log.start("POST", f"/p{i}", {}, "application/json", "ua") for i in range(4)]
    for record in records:
        log.attach_body(record, b'{"k":"' + b"v" * 50 + b'"}')
    assert [r.path for r in log.query()] == ["/p1", "/p2", "/p3"]
    assert records[3].parsed_body() == {"k": "v" * 50}
    assert records[0].raw_body is None and records[0].body_truncated
    big = log.start("POST", "/big", {}, "application/json", "ua")
    log.attach_body(big, b"x" * (MAX_LOGGED_BODY + 1))
    assert big.raw_body is None and big.body_truncated


async def test_E2_malformed_inputs_never_cause_500(kube: Http) -> None:
    await kube.post(WIDGETS, widget())
    bodies: list[object] = [
        {"metadata": {"name": 7}},
        {"metadata": {"name": "ok", "labels": ["x"]}},
        {"metadata": {"name": "ok", "annotations": {"a": 1}}},
        {"metadata": {"name": "ok", "finalizers": "f"}},
        {"metadata": {"name": "ok", "ownerReferences": {"uid": "x"}}},
        {"metadata": {"name": "ok", "ownerReferences": ["x"]}},
        {"metadata": {"generateName": 5}},
        {"metadata": None, "spec": {"size": 1}},
        {"metadata": {"name": "ok"}, "spec": "string"},
        {"metadata": {"name": "ok"}, "spec": {"size": None}},
        {"metadata": {"name": "ok"}, "spec": {"tags": {"a": 1}}},
        {"apiVersion": 5, "kind": [], "metadata": {"name": "ok"}},
        None,
        [],
        "text",
    ]
    for body in bodies:
        reply = await kube.post(WIDGETS, body)
        assert reply.status < 500, (body, reply.body)
        assert reply.body["kind"] in ("Status", "Widget"), body
    patches: list[tuple[str, object]] = [
        ("application/merge-patch+json", {"metadata": None}),
        ("application/merge-patch+json", {"metadata": {"name": None}}),
        ("application/merge-patch+json", {"metadata": {"resourceVersion": 12}}),
        ("application/merge-patch+json", {"spec": None}),
        ("application/merge-patch+json", None),
        ("application/json-patch+json", [{"op": "add", "path": "/spec/size/x", "value": 1}]),
        ("application/json-patch+json", [{"op": "add", "path": "spec", "value": 1}]),
        ("application/json-patch+json", [{"op": "remove", "path": ""}]),
        ("application/json-patch+json", [{"op": "replace", "path": "", "value": []}]),
        ("application/json-patch+json", [{"op": "move", "from": "/spec", "path": "/spec/inner"}]),
        ("application/json-patch+json", [{"op": "add", "path": "/spec/tags/9", "value": "x"}]),
        ("application/json-patch+json", [{"op": "test"}]),
        ("application/json-patch+json", ["op"]),
    ]
    for content_type, patch in patches:
        reply = await kube.request("PATCH", f"{WIDGETS}/w1", patch, content_type=content_type)
        assert reply.status < 500, (patch, reply.body)
    for params in ({"labelSelector": "a in ("}, {"fieldSelector": "a"}, {"continue": "%%%"}):
        reply = await kube.get(WIDGETS, **params)
        assert reply.status == 400, params
    assert (await kube.get(WIDGETS, limit="-1")).status == 200  # read as no limit
    for text in (b"- a\n- b\n", b"a: [", b"kind: Widget\n"):
        reply = await kube.request("POST", WIDGETS, raw=text, content_type="application/yaml")
        assert 400 <= reply.status < 500, text
    for path in (
        "/api/v1/namespaces/default/secrets/s/status",
        "/apis/example.com/v1/namespaces/default/widgets/w1/scale",
    ):
        assert (await kube.get(path)).status == 404
    if kube.backend == "emulator":
        stats = (await kube.get("/__sandbox/stats")).body
        assert "500" not in stats["by_status"]
