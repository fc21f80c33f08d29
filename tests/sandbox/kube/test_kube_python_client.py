"""The official kubernetes Python client against the emulator: typed built-ins, custom objects and watches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes
import pytest
from conftest import widget, widget_crd

from twilio_operator.sandbox.processes import wait_for


@pytest.fixture
def client(kubeconfig: Path) -> Any:
    api_client: Any = kubernetes.config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
    yield api_client
    api_client.close()


def test_typed_secret_lifecycle(client: Any) -> None:
    core: Any = kubernetes.client.CoreV1Api(client)
    body = kubernetes.client.V1Secret(
        metadata=kubernetes.client.V1ObjectMeta(name="creds", labels={"app": "demo"}),
        string_data={"TWILIO_API_KEY": "SKxxx"},
    )
    created = core.create_namespaced_secret("default", body)
    assert created.data == {"TWILIO_API_KEY": "U0t4eHg="}
    assert created.type == "Opaque"
    patched = core.patch_namespaced_secret(
        "creds", "default", {"stringData": {"TWILIO_API_SECRET": "s3cret"}}
    )
    assert set(patched.data) == {"TWILIO_API_KEY", "TWILIO_API_SECRET"}
    listed = core.list_namespaced_secret("default", label_selector="app=demo")
    assert [s.metadata.name for s in listed.items] == ["creds"]
    with pytest.raises(kubernetes.client.ApiException) as missing:
        core.read_namespaced_secret("nope", "default")
    assert missing.value.status == 404
    with pytest.raises(kubernetes.client.ApiException) as duplicate:
        core.create_namespaced_secret("default", body)
    assert duplicate.value.status == 409
    core.delete_namespaced_secret("creds", "default")
    assert core.list_namespaced_secret("default").items == []


def test_custom_objects_and_watch(client: Any) -> None:
    extensions: Any = kubernetes.client.ApiextensionsV1Api(client)
    extensions.create_custom_resource_definition(widget_crd())
    custom: Any = kubernetes.client.CustomObjectsApi(client)

    def served() -> bool:
        # kube-apiserver serves a new CRD's resource moments after creating it (the emulator at once).
        try:
            custom.list_namespaced_custom_object("example.com", "v1", "default", "widgets")
        except kubernetes.client.ApiException:
            return False
        return True

    wait_for(served, what="the widgets resource served")
    created = custom.create_namespaced_custom_object("example.com", "v1", "default", "widgets", widget())
    assert created["metadata"]["generation"] == 1
    patched = custom.patch_namespaced_custom_object(
        "example.com", "v1", "default", "widgets", "w1", {"spec": {"size": 4}}
    )
    assert patched["spec"]["size"] == 4
    status = custom.patch_namespaced_custom_object_status(
        "example.com", "v1", "default", "widgets", "w1", {"status": {"phase": "Ready"}}
    )
    assert status["status"] == {"phase": "Ready"}
    with pytest.raises(kubernetes.client.ApiException) as invalid:
        custom.patch_namespaced_custom_object(
            "example.com", "v1", "default", "widgets", "w1", {"spec": {"size": 0}}
        )
    assert invalid.value.status == 422

    listing = custom.list_namespaced_custom_object("example.com", "v1", "default", "widgets")
    watch: Any = kubernetes.watch.Watch()  # type: ignore[no-untyped-call]
    custom.delete_namespaced_custom_object("example.com", "v1", "default", "widgets", "w1")
    events = []
    for event in watch.stream(
        custom.list_namespaced_custom_object,
        "example.com",
        "v1",
        "default",
        "widgets",
        resource_version=listing["metadata"]["resourceVersion"],
        timeout_seconds=5,
    ):
        events.append(event)
        watch.stop()
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("DELETED", "w1")]


def test_ingress_and_events(client: Any) -> None:
    networking: Any = kubernetes.client.NetworkingV1Api(client)
    ingress = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "hooks"},
        "spec": {
            "rules": [
                {
                    "host": "hooks.example.com",
                    "http": {
                        "paths": [
                            {
                                "path": "/sms",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": "web", "port": {"number": 80}}},
                            }
                        ]
                    },
                }
            ]
        },
    }
    networking.create_namespaced_ingress("default", ingress)
    read = networking.read_namespaced_ingress("hooks", "default")
    assert read.spec.rules[0].http.paths[0].path == "/sms"
    status = networking.patch_namespaced_ingress_status(
        "hooks", "default", {"status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.1"}]}}}
    )
    assert status.status.load_balancer.ingress[0].ip == "10.0.0.1"
    core: Any = kubernetes.client.CoreV1Api(client)
    core.create_namespaced_event(
        "default",
        {
            "metadata": {"generateName": "hooks-"},
            "involvedObject": {"kind": "Ingress", "name": "hooks", "namespace": "default"},
            "reason": "Resolved",
            "message": "webhook URL resolved",
            "type": "Normal",
        },
    )
    events = core.list_namespaced_event("default", field_selector="involvedObject.name=hooks")
    assert [e.reason for e in events.items] == ["Resolved"]
