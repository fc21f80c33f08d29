"""Discovery, version and OpenAPI documents (D1-D6, R1, R8)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import Http, eventually, widget_crd

from twilio_operator.sandbox.kube import KubeEmulator, kubeconfig_yaml


async def test_D1_version_reports_a_kubectl_compatible_minor(http: Http) -> None:
    reply = await http.get("/version")
    assert reply.status == 200
    assert reply.body["major"] == "1"
    assert reply.body["minor"] == "37"
    assert reply.body["gitVersion"].startswith("v1.37")


async def test_D2_core_group_discovery(http: Http) -> None:
    versions = await http.get("/api")
    assert versions.body["kind"] == "APIVersions"
    assert versions.body["versions"] == ["v1"]
    resources = await http.get("/api/v1")
    assert resources.body["kind"] == "APIResourceList"
    assert resources.body["groupVersion"] == "v1"
    names = {r["name"] for r in resources.body["resources"]}
    assert {"namespaces", "secrets", "configmaps", "events", "serviceaccounts", "services"} <= names


async def test_D3_group_list_and_group_version_resources(kube: Http) -> None:
    groups = await kube.get("/apis")
    assert groups.body["kind"] == "APIGroupList"
    group_versions = {v["groupVersion"] for g in groups.body["groups"] for v in g["versions"]}
    assert {
        "apps/v1",
        "apiextensions.k8s.io/v1",
        "networking.k8s.io/v1",
        "coordination.k8s.io/v1",
        "events.k8s.io/v1",
        "example.com/v1",
    } <= group_versions
    listing = await kube.get("/apis/example.com/v1")
    assert listing.body["groupVersion"] == "example.com/v1"
    widgets = next(r for r in listing.body["resources"] if r["name"] == "widgets")
    assert widgets["singularName"] == "widget"
    assert widgets["namespaced"] is True
    assert widgets["kind"] == "Widget"
    assert widgets["shortNames"] == ["wd"]
    assert widgets["categories"] == ["gadgets"]
    assert {"create", "get", "list", "watch", "patch", "update", "delete"} <= set(widgets["verbs"])
    group = await kube.get("/apis/example.com")
    assert group.body["kind"] == "APIGroup"
    assert group.body["preferredVersion"]["groupVersion"] == "example.com/v1"


async def test_D4_status_subresource_entry_without_short_names(kube: Http) -> None:
    listing = await kube.get("/apis/example.com/v1")
    status = next(r for r in listing.body["resources"] if r["name"] == "widgets/status")
    assert sorted(status["verbs"]) == ["get", "patch", "update"]
    assert "shortNames" not in status


async def test_D5_builtins_served_and_unknown_paths_404(http: Http) -> None:
    for path in (
        "/api/v1/namespaces",
        "/api/v1/secrets",
        "/api/v1/configmaps",
        "/api/v1/events",
        "/api/v1/serviceaccounts",
        "/api/v1/services",
        "/apis/apps/v1/deployments",
        "/apis/networking.k8s.io/v1/ingresses",
        "/apis/coordination.k8s.io/v1/leases",
        "/apis/events.k8s.io/v1/events",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
    ):
        assert (await http.get(path)).status == 200, path
    for path in ("/api/v2", "/api/v1/nothings", "/apis/apps/v1/nothings"):
        reply = await http.get(path)
        assert reply.status == 404, path
        assert reply.reason == "NotFound"
    # Paths no API group serves reach kube-apiserver's fallback handler, which answers in plain text.
    for path in ("/apis/kopf.dev/v1", "/apis/example.com/v1/widgets", "/nope"):
        reply = await http.get(path)
        assert reply.status == 404, path
        assert reply.body == "404 page not found\n", path


async def test_D5_kopf_peering_only_when_registered(http: Http) -> None:
    assert (await http.get("/apis/kopf.dev/v1")).status == 404
    await http.install_crd(widget_crd(group="kopf.dev", plural="kopfpeerings", kind="KopfPeering"))
    assert (await http.get("/apis/kopf.dev/v1/namespaces/default/kopfpeerings")).status == 200


@pytest.mark.emulator_only("kube-apiserver answers aggregated discovery; the emulator only legacy (README)")
async def test_D6_discovery_answers_plain_json_to_aggregated_accept(http: Http) -> None:
    accept = (
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
        "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
    )
    reply = await http.request("GET", "/apis", headers={"Accept": accept})
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.body["kind"] == "APIGroupList"


async def test_R1_crd_appears_in_discovery_immediately(http: Http) -> None:
    assert (await http.get("/apis/example.com/v1")).status == 404
    created = await http.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", widget_crd())
    assert created.status == 201
    await http.served("/apis/example.com/v1")
    groups = await http.get("/apis")
    assert any(g["name"] == "example.com" for g in groups.body["groups"])


async def openapi_root(kube: Http) -> dict[str, Any]:
    """/openapi/v3 once it lists the Widget CRD's group version."""

    async def listed() -> dict[str, Any] | None:
        root = await kube.get("/openapi/v3")
        assert root.status == 200
        return root.body if "apis/example.com/v1" in root.body["paths"] else None

    return await eventually(listed, limit=30)


async def test_R8_openapi_root_lists_group_versions(kube: Http) -> None:
    paths = (await openapi_root(kube))["paths"]
    assert "api/v1" in paths
    assert "apis/example.com/v1" in paths
    url = paths["apis/example.com/v1"]["serverRelativeURL"]
    assert url.startswith("/openapi/v3/apis/example.com/v1?hash=")


async def test_R8_openapi_group_version_document(kube: Http) -> None:
    root = await openapi_root(kube)
    url = root["paths"]["apis/example.com/v1"]["serverRelativeURL"]
    doc = await kube.get(url)
    assert doc.status == 200
    schemas = doc.body["components"]["schemas"]
    widget_schema = schemas["com.example.v1.Widget"]
    assert widget_schema["x-kubernetes-group-version-kind"] == [
        {"group": "example.com", "version": "v1", "kind": "Widget"}
    ]
    assert widget_schema["properties"]["spec"]["properties"]["size"]["minimum"] == 1
    item = doc.body["paths"]["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}"]
    patch = item["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": "example.com",
        "version": "v1",
        "kind": "Widget",
    }
    assert any(p["name"] == "fieldValidation" and p["in"] == "query" for p in patch["parameters"])
    assert "application/merge-patch+json" in patch["requestBody"]["content"]
    ref = item["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/com.example.v1.Widget"
    core = await kube.get(root["paths"]["api/v1"]["serverRelativeURL"])
    secret_patch = core.body["paths"]["/api/v1/namespaces/{namespace}/secrets/{name}"]["patch"]
    assert any(p["name"] == "fieldValidation" for p in secret_patch["parameters"])
    # kube-apiserver still serves OpenAPI v2; the emulator only v3, which kubectl 1.37 uses (README).
    assert (await kube.get("/openapi/v2")).status == (404 if kube.backend == "emulator" else 200)


@pytest.mark.emulator_only("the emulator's kubeconfig")
async def test_kubeconfig_points_at_the_emulator(emulator: KubeEmulator) -> None:
    config = yaml.safe_load(kubeconfig_yaml(emulator.url))
    assert config["current-context"] == "sandbox"
    assert config["clusters"][0] == {"name": "sandbox", "cluster": {"server": emulator.url}}
    assert config["contexts"][0]["name"] == "sandbox"
    assert config["users"][0]["user"] == {}


def test_runs_as_its_own_process(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "twilio_operator.sandbox.kube",
            "--port",
            "0",
            "--kubeconfig",
            str(kubeconfig),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url + "/version", timeout=5) as response:
            assert json.load(response)["minor"] == "37"
        assert f"server: {url}" in kubeconfig.read_text()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
