"""The real control plane's parts that need no Kubernetes programs: credentials, the programs' lookup,
the audit log as a request log, the kubeconfig and the sandbox's choice of API server."""

from __future__ import annotations

import base64
import ipaddress
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cryptography import x509

from twilio_operator.sandbox.controlplane import audit, binaries, pki
from twilio_operator.sandbox.controlplane.errors import ControlPlaneUnavailable
from twilio_operator.sandbox.kube import kubeconfig_yaml
from twilio_operator.sandbox.runner import kube_backend


def test_pki_serving_certificate_is_signed_by_the_ca_for_loopback(tmp_path: Path) -> None:
    made = pki.generate(tmp_path / "pki")
    ca = x509.load_pem_x509_certificate(made.ca_cert.read_bytes())
    serving = x509.load_pem_x509_certificate(made.serving_cert.read_bytes())
    serving.verify_directly_issued_by(ca)
    sans = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("127.0.0.1") in sans.get_values_for_type(x509.IPAddress)
    assert "localhost" in sans.get_values_for_type(x509.DNSName)
    for private in (made.serving_key, made.service_account_key, made.token_file):
        assert private.stat().st_mode & 0o077 == 0, private
    tokens = made.token_file.read_text().splitlines()
    assert tokens[0].startswith(f"{made.admin_token},sandbox-admin,")
    assert tokens[0].endswith('"system:masters"')
    assert tokens[1].split(",")[1] == "system:kube-controller-manager"
    assert made.admin_token != pki.generate(tmp_path / "again").admin_token


def test_binaries_found_in_the_versioned_cache_or_named_directory(tmp_path: Path) -> None:
    versions = binaries.versions()
    assert versions.kubernetes.startswith("v1.") and versions.etcd.startswith("v3.")
    env = {"TWILIO_CONTROLPLANE_CACHE": str(tmp_path)}
    expected = tmp_path / f"k8s-{versions.kubernetes}-etcd-{versions.etcd}" / "bin"
    assert binaries.cache_bin_dir(env) == expected
    with pytest.raises(ControlPlaneUnavailable, match=r"scripts/controlplane\.sh"):
        binaries.find(env)
    expected.mkdir(parents=True)
    for program in binaries.PROGRAMS:
        (expected / program).write_text("#!/bin/sh\n")
        (expected / program).chmod(0o755)
    assert binaries.find(env) == expected
    assert binaries.cache_bin_dir({"XDG_CACHE_HOME": "/x"}).parts[:4] == (
        "/",
        "x",
        "twilio-operator",
        "controlplane",
    )
    with pytest.raises(ControlPlaneUnavailable, match=binaries.BIN_ENV):
        binaries.find({binaries.BIN_ENV: str(tmp_path)})


def test_build_script_and_python_agree_on_the_cache(tmp_path: Path) -> None:
    script = Path(__file__).parents[3] / "scripts" / "controlplane.sh"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TWILIO_CONTROLPLANE_CACHE": str(tmp_path / "c")}
    printed = subprocess.run(
        [str(script), "--print-dir"], env=env, capture_output=True, text=True, check=False
    )
    assert printed.returncode == 1  # nothing built there
    assert Path(printed.stdout.strip()) == binaries.cache_bin_dir(env)


def test_build_script_without_go_says_what_to_install(tmp_path: Path) -> None:
    script = Path(__file__).parents[3] / "scripts" / "controlplane.sh"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "GO": str(tmp_path / "no-go")}
    result = subprocess.run([str(script)], env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "controlplane: needs the Go toolchain, 1.26 or newer, as 'go' on PATH (or GO=/path/to/go)"
    ]


def test_audit_events_read_as_request_log_entries(tmp_path: Path) -> None:
    event = {
        "kind": "Event",
        "level": "Metadata",
        "verb": "patch",
        "requestURI": "/apis/example.com/v1/namespaces/default/widgets/w1/status?fieldManager=kopf",
        "user": {"username": "sandbox-admin"},
        "userAgent": "kopf/1.45",
        "objectRef": {
            "resource": "widgets",
            "namespace": "default",
            "name": "w1",
            "apiGroup": "example.com",
            "subresource": "status",
        },
        "responseStatus": {"code": 200},
    }
    core = {"verb": "list", "requestURI": "/api/v1/namespaces", "objectRef": {"resource": "namespaces"}}
    log = tmp_path / "audit.log"
    log.write_text(json.dumps(event) + "\n" + json.dumps(core) + "\n\n")
    entries = audit.requests(log)
    assert entries[0] | {"time": None} == {
        "time": None,
        "method": "PATCH",
        "path": "/apis/example.com/v1/namespaces/default/widgets/w1/status",
        "query": {"fieldManager": "kopf"},
        "user_agent": "kopf/1.45",
        "user": "sandbox-admin",
        "status": 200,
        "body": None,
        "verb": "patch",
        "resource": "widgets.example.com",
        "namespace": "default",
        "name": "w1",
        "subresource": "status",
    }
    assert entries[1]["resource"] == "namespaces"
    assert [e["path"] for e in audit.requests(log, method="GET")] == ["/api/v1/namespaces"]
    assert audit.requests(log, path_prefix="/apis/") == entries[:1]
    assert audit.requests(tmp_path / "missing.log") == []


def test_kubeconfig_carries_ca_and_token_only_for_the_real_server() -> None:
    real = yaml.safe_load(kubeconfig_yaml("https://127.0.0.1:6443", ca_pem=b"PEM", token="t0k"))
    assert real["clusters"][0]["cluster"] == {
        "server": "https://127.0.0.1:6443",
        "certificate-authority-data": base64.b64encode(b"PEM").decode(),
    }
    assert real["users"][0]["user"] == {"token": "t0k"}
    emulated = yaml.safe_load(kubeconfig_yaml("http://127.0.0.1:1"))
    assert emulated["users"][0]["user"] == {}


def test_kube_backend_from_option_then_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TWILIO_SANDBOX_KUBE", raising=False)
    assert kube_backend(None) == "emulator"
    monkeypatch.setenv("TWILIO_SANDBOX_KUBE", "apiserver")
    assert kube_backend(None) == "apiserver"
    assert kube_backend("emulator") == "emulator"
    monkeypatch.setenv("TWILIO_SANDBOX_KUBE", "kind")
    with pytest.raises(ValueError, match="emulator, apiserver"):
        kube_backend(None)


def test_sandbox_without_built_programs_says_so_in_one_line(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TWILIO_CONTROLPLANE_CACHE": str(tmp_path / "c")}
    cli = Path(sys.executable).parent / "twilio-operator"
    result = subprocess.run(
        [str(cli), "sandbox", "--kube", "apiserver"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "scripts/controlplane.sh" in lines[0]
    bad = subprocess.run(
        [str(cli), "sandbox"],
        env={**env, "TWILIO_SANDBOX_KUBE": "kind"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2
    assert "TWILIO_SANDBOX_KUBE" in bad.stderr


def test_the_fault_proxy_reads_requests_as_rbac_does() -> None:
    from twilio_operator.sandbox.controlplane.requestinfo import request_info

    ns = "/api/v1/namespaces"
    assert request_info("GET", f"{ns}/a/secrets", {"watch": "true"}) == ("watch", "secrets", "a", None, None)
    assert request_info("GET", f"{ns}/a/secrets", {}) == ("list", "secrets", "a", None, None)
    assert request_info("POST", f"{ns}/a/secrets", {}) == ("create", "secrets", "a", None, None)
    assert request_info("DELETE", f"{ns}/a/secrets", {}) == ("deletecollection", "secrets", "a", None, None)
    path = "/apis/twilio.operator.dev/v1alpha1/namespaces/a/apikeys/k/status"
    assert request_info("PATCH", path, {}) == ("patch", "apikeys.twilio.operator.dev", "a", "k", "status")
    # A namespace is the namespace of itself, and its finalize subresource stays its own.
    assert request_info("GET", f"{ns}/a", {}) == ("get", "namespaces", "a", "a", None)
    assert request_info("PUT", f"{ns}/a/finalize", {}) == ("update", "namespaces", "a", "a", "finalize")
    assert request_info("GET", "/apis/x.io/v1/watch/things", {}) == ("watch", "things.x.io", None, None, None)
    assert request_info("GET", "/apis/x.io/v1", {}) is None
    assert request_info("GET", "/version", {}) is None
