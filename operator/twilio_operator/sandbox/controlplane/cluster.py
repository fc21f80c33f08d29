"""A real Kubernetes control plane without nodes, as controller-runtime's envtest runs one: etcd,
kube-apiserver and kube-controller-manager as child processes on loopback, all state under one directory.

Synchronous on purpose: it is started from pytest's session fixtures as well as from the sandbox's event loop
(through a thread), and it only waits on child processes and a few HTTPS calls.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ..kube.kubeconfig import kubeconfig_yaml
from . import binaries, pki
from .errors import ControlPlaneError

JsonObj = dict[str, Any]
HOST = "127.0.0.1"

# Metadata level: verb, request URI, user, user agent, object reference and response code of every request,
# never a body, so no Secret's data ever lands in the log.
AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
"""

# The garbage collector (owner references) and the namespace controller (namespaces finish deleting) are
# what a cluster without nodes needs; the service-account controller gives namespaces their `default`
# account as a cluster would, and the aggregation controller fills the built-in view, edit and admin roles
# from the aggregated ClusterRoles (without it they have no rules). Nothing that would add objects to every
# namespace (kube-root-ca.crt).
CONTROLLERS = (
    "garbage-collector-controller",
    "namespace-controller",
    "serviceaccount-controller",
    "clusterrole-aggregation-controller",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class _Program:
    name: str
    argv: list[str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log: IO[bytes] = self.log_path.open("ab")
        # In the sandbox's process group: whoever ends the group (a Ctrl-C, SandboxProcess.stop) ends these
        # too, even when the sandbox itself had no chance to stop them.
        self.proc = subprocess.Popen(
            self.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        log.close()

    def exited(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def tail(self, size: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-size:]
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout)


@dataclass
class ControlPlane:
    """etcd + kube-apiserver + kube-controller-manager under `state_dir` (wiped at start)."""

    state_dir: Path
    bin_dir: Path | None = None
    port: int = 0
    manager_port: int = 0
    programs: list[_Program] = field(default_factory=list)
    credentials: pki.Pki | None = None

    @property
    def url(self) -> str:
        return f"https://{HOST}:{self.port}"

    @property
    def audit_log(self) -> Path:
        """One JSON audit event per line (audit.k8s.io/v1 Event), for every request the API server served."""
        return self.state_dir / "audit.log"

    @property
    def admin_token(self) -> str:
        return self._pki().admin_token

    @property
    def ca_file(self) -> Path:
        return self._pki().ca_cert

    def kubeconfig(self, server: str | None = None, token: str | None = None) -> str:
        """A kubeconfig, CA embedded, for kubectl, kopf and the client: the admin's (system:masters) unless
        another bearer token is given, for this API server or `server` (a proxy serving its certificate)."""
        return kubeconfig_yaml(
            server or self.url, ca_pem=self._pki().ca_pem(), token=token or self.admin_token
        )

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def serving_ssl_context(self) -> ssl.SSLContext:
        """A server-side context with the API server's certificate, for whatever serves in its name."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(self._pki().serving_cert), str(self._pki().serving_key))
        return context

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self, timeout: float = 120.0) -> None:
        bin_dir = self.bin_dir or binaries.find()
        if self.state_dir.exists():
            shutil.rmtree(self.state_dir)
        self.state_dir.mkdir(parents=True)
        self.credentials = pki.generate(self.state_dir / "pki")
        (self.state_dir / "audit-policy.yaml").write_text(AUDIT_POLICY)
        etcd_port, peer_port = free_port(), free_port()
        self.port = self.port or free_port()
        self.manager_port = free_port()
        deadline = time.monotonic() + timeout
        try:
            etcd = self._launch("etcd", [str(bin_dir / "etcd"), *self._etcd_args(etcd_port, peer_port)])
            self._wait(etcd, deadline, lambda: self._etcd_healthy(etcd_port))
            apiserver = self._launch(
                "kube-apiserver", [str(bin_dir / "kube-apiserver"), *self._apiserver_args(etcd_port)]
            )
            self._wait(apiserver, deadline, lambda: self._ok("/readyz"))
            kubeconfig = self.state_dir / "controller-manager.kubeconfig"
            kubeconfig.write_text(
                kubeconfig_yaml(
                    self.url, ca_pem=self._pki().ca_pem(), token=self._pki().controller_manager_token
                )
            )
            kubeconfig.chmod(0o600)
            manager = self._launch(
                "kube-controller-manager",
                [str(bin_dir / "kube-controller-manager"), *self._controller_manager_args(kubeconfig)],
            )
            # Its garbage collector and namespace controller work from an informer cache; their absence
            # would show only as objects that never go away, so wait until its health endpoint answers.
            self._wait(manager, deadline, self._manager_running)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for program in reversed(self.programs):
            program.stop()
        self.programs.clear()

    def install_crds(self, crds: Iterable[JsonObj], timeout: float = 60.0) -> None:
        """Create (or replace) CRDs and wait until every one is Established and its resource is served:
        right after Established, kube-apiserver still answers 429 while the resource's storage starts."""
        names, lists = [], []
        for crd in crds:
            spec = crd["spec"]
            served = next(v["name"] for v in spec["versions"] if v.get("served", True))
            lists.append(f"/apis/{spec['group']}/{served}/{spec['names']['plural']}")
            names.append(crd["metadata"]["name"])
            status, answer = self.request(
                "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd
            )
            if status == 409:
                path = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{names[-1]}"
                _, current = self.request("GET", path)
                replaced = {**crd, "metadata": {**crd["metadata"], **_version_of(current)}}
                status, answer = self.request("PUT", path, replaced)
            if status not in (200, 201):
                message = answer.get("message") if isinstance(answer, dict) else answer
                raise ControlPlaneError(f"the API server refused CRD {names[-1]} ({status}): {message}")
        deadline = time.monotonic() + timeout
        for name, listing in zip(names, lists, strict=True):
            path = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}"
            while not _established(self.request("GET", path)[1]) or self.request("GET", listing)[0] != 200:
                if time.monotonic() > deadline:
                    raise ControlPlaneError(f"CRD {name} not Established and served within {timeout}s")
                time.sleep(0.05)

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """One API call as the admin; (status, the body decoded from JSON, or its text when not JSON)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.admin_token}")
        if data is not None:
            content_type = "application/merge-patch+json" if method == "PATCH" else "application/json"
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, timeout=30, context=self.ssl_context()) as response:
                return response.status, _decoded(response.read())
        except urllib.error.HTTPError as error:
            return error.code, _decoded(error.read())

    # --- arguments -----------------------------------------------------------------------------------

    def _etcd_args(self, client_port: int, peer_port: int) -> list[str]:
        client, peer = f"http://{HOST}:{client_port}", f"http://{HOST}:{peer_port}"
        return [
            f"--data-dir={self.state_dir / 'etcd'}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=default={peer}",
            # A sandbox survives no power cut; skipping fsync is what envtest does too.
            "--unsafe-no-fsync=true",
            "--log-level=warn",
        ]

    def _apiserver_args(self, etcd_port: int) -> list[str]:
        p = self._pki()
        return [
            f"--etcd-servers=http://{HOST}:{etcd_port}",
            f"--bind-address={HOST}",
            f"--advertise-address={HOST}",
            f"--secure-port={self.port}",
            f"--cert-dir={self.state_dir / 'pki'}",
            f"--tls-cert-file={p.serving_cert}",
            f"--tls-private-key-file={p.serving_key}",
            f"--token-auth-file={p.token_file}",
            "--authorization-mode=Node,RBAC",
            # Beyond the defaults: a client may set blockOwnerDeletion on an owner reference only with update
            # on the owner's finalizers, as OpenShift and hardened clusters enforce (the chart grants it).
            "--enable-admission-plugins=OwnerReferencesPermissionEnforcement",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={p.service_account_public_key}",
            f"--service-account-signing-key-file={p.service_account_key}",
            f"--service-cluster-ip-range={pki.SERVICE_IP.rsplit('.', 1)[0]}.0/24",
            f"--audit-policy-file={self.state_dir / 'audit-policy.yaml'}",
            f"--audit-log-path={self.audit_log}",
            "--audit-log-format=json",
            # Written before the response goes out, so a test reads its own request right after it.
            "--audit-log-mode=blocking",
            # No node ever registers: the endpoints of the `kubernetes` Service would point at loopback.
            "--endpoint-reconciler-type=none",
        ]

    def _controller_manager_args(self, kubeconfig: Path) -> list[str]:
        p = self._pki()
        return [
            f"--kubeconfig={kubeconfig}",
            f"--controllers={','.join(CONTROLLERS)}",
            # Each controller acts as its own service account under the bootstrap RBAC roles, as in kubeadm.
            "--use-service-account-credentials=true",
            f"--service-account-private-key-file={p.service_account_key}",
            f"--root-ca-file={p.ca_cert}",
            "--leader-elect=false",
            f"--bind-address={HOST}",
            f"--secure-port={self.manager_port}",
            f"--cert-dir={self.state_dir / 'controller-manager-pki'}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            # Its own health endpoint answers without credentials, so this process can tell it is up.
            "--authorization-always-allow-paths=/healthz,/readyz,/livez",
        ]

    # --- waiting -------------------------------------------------------------------------------------

    def _pki(self) -> pki.Pki:
        if self.credentials is None:
            raise RuntimeError("the control plane has not been started")
        return self.credentials

    def _launch(self, name: str, argv: list[str]) -> _Program:
        program = _Program(name, argv, self.state_dir / f"{name}.log")
        program.start()
        self.programs.append(program)
        return program

    def _wait(self, program: _Program, deadline: float, ready: Callable[[], bool]) -> None:
        while not ready():
            if program.exited():
                raise ControlPlaneError(f"{program.name} exited:\n{program.tail()}")
            if time.monotonic() > deadline:
                raise ControlPlaneError(f"{program.name} not ready in time:\n{program.tail()}")
            time.sleep(0.1)

    def _etcd_healthy(self, port: int) -> bool:
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/health", timeout=2) as response:
                return bool(json.loads(response.read()).get("health") == "true")
        except (OSError, ValueError):
            return False

    def _ok(self, path: str) -> bool:
        try:
            return self.request("GET", path)[0] == 200
        except OSError:
            return False

    def _manager_running(self) -> bool:
        context = ssl.create_default_context()
        # Its serving certificate is self-signed by itself; only liveness is asked here, over loopback.
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        try:
            url = f"https://{HOST}:{self.manager_port}/healthz"
            with urllib.request.urlopen(url, timeout=2, context=context) as response:
                return bool(response.status == 200)
        except OSError:
            return False


def _decoded(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        # Health endpoints answer plain text ("ok").
        return raw.decode(errors="replace")


def _version_of(obj: Any) -> JsonObj:
    return {"resourceVersion": obj["metadata"]["resourceVersion"]} if isinstance(obj, dict) else {}


def _established(crd: Any) -> bool:
    conditions = ((crd or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)
