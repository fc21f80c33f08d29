"""Create and object identity (C1-C8)."""

from __future__ import annotations

import re
import uuid

from conftest import WIDGETS, Http, widget


async def test_C1_create_returns_201_with_stored_object(kube: Http) -> None:
    reply = await kube.post(WIDGETS, widget())
    assert reply.status == 201
    assert reply.body["metadata"]["name"] == "w1"
    assert reply.body["kind"] == "Widget"
    assert reply.body["apiVersion"] == "example.com/v1"
    fetched = await kube.get(f"{WIDGETS}/w1")
    assert fetched.body == reply.body


async def test_C2_server_assigns_identity_and_ignores_client_values(kube: Http) -> None:
    body = widget(
        metadata={
            "uid": "client-uid",
            "creationTimestamp": "2000-01-01T00:00:00Z",
            "generation": 7,
            "deletionTimestamp": "2000-01-01T00:00:00Z",
        }
    )
    first = (await kube.post(WIDGETS, body)).body["metadata"]
    uuid.UUID(first["uid"])
    assert first["uid"] != "client-uid"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", first["creationTimestamp"])
    assert first["creationTimestamp"] != "2000-01-01T00:00:00Z"
    assert first["generation"] == 1
    assert "deletionTimestamp" not in first
    secret = await kube.post("/api/v1/namespaces/default/secrets", {"metadata": {"name": "s"}})
    # One counter for all resources: the Secret written after the Widget has a larger resourceVersion.
    assert int(secret.body["metadata"]["resourceVersion"]) > int(first["resourceVersion"])


async def test_C3_namespace_filled_from_url(kube: Http) -> None:
    reply = await kube.post(WIDGETS, widget())
    assert reply.body["metadata"]["namespace"] == "default"


async def test_C3a_namespace_mismatch_is_bad_request(kube: Http) -> None:
    reply = await kube.post(WIDGETS, widget(metadata={"namespace": "kube-system"}))
    assert reply.status == 400
    assert reply.reason == "BadRequest"


async def test_C4_generate_name(kube: Http) -> None:
    body = widget()
    body["metadata"] = {"generateName": "gen-"}
    reply = await kube.post(WIDGETS, body)
    assert reply.status == 201
    assert re.fullmatch(r"gen-[a-z0-9]{5}", reply.body["metadata"]["name"])
    body["metadata"] = {}
    missing = await kube.post(WIDGETS, body)
    assert missing.status == 422
    assert missing.fields() == ["metadata.name"]


async def test_C5_name_validation(kube: Http) -> None:
    for bad in ("Upper", "under_score", "-lead", "trail-", "x" * 254):
        reply = await kube.post(WIDGETS, widget(name=bad))
        assert reply.status == 422, bad
        assert reply.reason == "Invalid"
        assert "metadata.name" in reply.fields()
    assert (await kube.post(WIDGETS, widget(name="dotted.name-1"))).status == 201
    namespace = await kube.post("/api/v1/namespaces", {"metadata": {"name": "has.dot"}})
    assert namespace.status == 422
    assert (await kube.post("/api/v1/namespaces", {"metadata": {"name": "x" * 64}})).status == 422
    assert (await kube.post("/api/v1/namespaces", {"metadata": {"name": "fine-ns"}})).status == 201


async def test_C6_duplicate_name_already_exists(kube: Http) -> None:
    assert (await kube.post(WIDGETS, widget())).status == 201
    reply = await kube.post(WIDGETS, widget())
    assert reply.status == 409
    assert reply.reason == "AlreadyExists"
    assert reply.body["details"]["name"] == "w1"


async def test_C7_create_in_missing_namespace_404(kube: Http) -> None:
    reply = await kube.post("/apis/example.com/v1/namespaces/no-such-ns/widgets", widget())
    assert reply.status == 404
    assert reply.reason == "NotFound"
    assert reply.body["details"] == {"name": "no-such-ns", "kind": "namespaces"}


async def test_C7a_create_in_terminating_namespace_forbidden(kube: Http) -> None:
    await kube.post("/api/v1/namespaces", {"metadata": {"name": "doomed"}})
    path = "/apis/example.com/v1/namespaces/doomed/widgets"
    await kube.post(path, widget(metadata={"finalizers": ["example.com/hold"]}))
    assert (await kube.delete("/api/v1/namespaces/doomed")).status == 200
    reply = await kube.post(path, widget(name="w2"))
    assert reply.status == 403
    assert reply.reason == "Forbidden"


async def test_C8_annotations_over_256k_rejected(kube: Http) -> None:
    body = widget(metadata={"annotations": {"big": "x" * 262145}})
    reply = await kube.post(WIDGETS, body)
    assert reply.status == 422
    assert "metadata.annotations" in reply.fields()
    body = widget(metadata={"annotations": {"big": "x" * 1000}})
    assert (await kube.post(WIDGETS, body)).status == 201


async def test_label_and_annotation_keys_validated(kube: Http) -> None:
    reply = await kube.post(WIDGETS, widget(metadata={"labels": {"bad key": "v"}}))
    assert reply.status == 422
    reply = await kube.post(WIDGETS, widget(metadata={"labels": {"ok": "bad value!"}}))
    assert reply.status == 422
    assert "metadata.labels" in reply.fields()


async def test_owner_reference_requires_uid(kube: Http) -> None:
    refs = [{"apiVersion": "v1", "kind": "ConfigMap", "name": "x"}]
    reply = await kube.post(WIDGETS, widget(metadata={"ownerReferences": refs}))
    assert reply.status == 422
    assert "metadata.ownerReferences[0].uid" in reply.fields()


async def test_create_kind_mismatch_bad_request(kube: Http) -> None:
    # A wrong kind in the right group/version decodes, then fails validation; a wrong version fails to decode.
    body = widget()
    body["kind"] = "Gadget"
    wrong_kind = await kube.post(WIDGETS, body)
    assert wrong_kind.status == 422
    assert wrong_kind.fields() == ["kind"]
    body = widget()
    body["apiVersion"] = "example.com/v2"
    assert (await kube.post(WIDGETS, body)).status == 400


async def test_create_accepts_yaml_and_refuses_protobuf(kube: Http) -> None:
    text = "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: yml\nspec:\n  size: 2\n"
    reply = await kube.request("POST", WIDGETS, raw=text.encode(), content_type="application/yaml")
    assert reply.status == 201
    proto = await kube.request(
        "POST",
        "/api/v1/namespaces/default/secrets",
        raw=b"k8s\x00...",
        content_type="application/vnd.kubernetes.protobuf",
    )
    # The emulator cannot decode protobuf and says so (415); kube-apiserver finds garbage in it (400).
    if kube.backend == "emulator":
        assert (proto.status, proto.reason) == (415, "UnsupportedMediaType")
    else:
        assert (proto.status, proto.reason) == (400, "BadRequest")


async def test_dry_run_never_persists(kube: Http) -> None:
    reply = await kube.post(WIDGETS, widget(), dryRun="All")
    # The emulator refuses a server-side dry run (400) rather than simulate one; kube-apiserver runs it.
    assert reply.status == (400 if kube.backend == "emulator" else 201)
    assert (await kube.get(f"{WIDGETS}/w1")).status == 404
