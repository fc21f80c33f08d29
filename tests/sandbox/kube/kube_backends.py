"""The real control plane as a backend of the emulator's test suite: one per pytest session, returned to a
clean state before every test (what the emulator gets by being created afresh)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from twilio_operator.sandbox.controlplane.cluster import ControlPlane

JsonObj = dict[str, Any]
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
SYSTEM_NAMESPACES = {"default", "kube-system", "kube-public", "kube-node-lease"}
# What tests create in a namespace besides custom resources; what the cluster itself keeps there survives.
NAMESPACED_BUILTINS = (
    "/api/v1/namespaces/{ns}/secrets",
    "/api/v1/namespaces/{ns}/configmaps",
    "/api/v1/namespaces/{ns}/events",
    "/api/v1/namespaces/{ns}/services",
    "/api/v1/namespaces/{ns}/serviceaccounts",
    "/apis/coordination.k8s.io/v1/namespaces/{ns}/leases",
    "/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses",
    "/apis/apps/v1/namespaces/{ns}/deployments",
)
KEEP = {("services", "kubernetes"), ("serviceaccounts", "default"), ("configmaps", "kube-root-ca.crt")}


class CleanupTimeout(AssertionError):
    pass


def _wait(check: Any, what: str, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while not check():
        if time.monotonic() > deadline:
            raise CleanupTimeout(f"resetting the control plane: {what} within {limit}s")
        time.sleep(0.05)


class RealCluster:
    """A ControlPlane plus the per-test reset."""

    def __init__(self, state_dir: Path) -> None:
        self.plane = ControlPlane(state_dir)
        # (uid, generation) of the kept CRD as the reset installed it; other values: a test changed it.
        self._kept: tuple[str, int] | None = None

    def start(self) -> None:
        self.plane.start()

    def stop(self) -> None:
        self.plane.stop()

    @property
    def url(self) -> str:
        return self.plane.url

    def reset(self, keep_crd: JsonObj | None) -> None:
        """Remove everything tests made; leave `keep_crd` installed and Established, as it was written."""
        request = self.plane.request
        keep_name = keep_crd["metadata"]["name"] if keep_crd else None
        _, crds = request("GET", CRDS)
        doomed, survivors = [], []
        for crd in crds["items"]:
            name = crd["metadata"]["name"]
            self._release_custom_objects(crd)
            identity = (crd["metadata"]["uid"], crd["metadata"]["generation"])
            if name != keep_name or identity != self._kept:
                request("DELETE", f"{CRDS}/{name}")
                doomed.append(name)
            else:
                survivors.append(name)
        _, namespaces = request("GET", "/api/v1/namespaces")
        names = [n["metadata"]["name"] for n in namespaces["items"]]
        for ns in names:
            self._clear_builtins(ns, delete=ns in SYSTEM_NAMESPACES)
        extra = [ns for ns in names if ns not in SYSTEM_NAMESPACES]
        for ns in extra:
            request("DELETE", f"/api/v1/namespaces/{ns}")
        for name in doomed:
            _wait(lambda n=name: request("GET", f"{CRDS}/{n}")[0] == 404, f"CRD {name} gone")
        for ns in extra:
            _wait(lambda n=ns: request("GET", f"/api/v1/namespaces/{n}")[0] == 404, f"namespace {ns} gone")
        if keep_crd is None:
            self._kept = None
        elif keep_name not in survivors:
            self.plane.install_crds([keep_crd])
            _, stored = request("GET", f"{CRDS}/{keep_name}")
            self._kept = (stored["metadata"]["uid"], stored["metadata"]["generation"])

    def _release_custom_objects(self, crd: JsonObj) -> None:
        """Strip finalizers from every object of the CRD and delete them all."""
        group, plural = crd["spec"]["group"], crd["spec"]["names"]["plural"]
        namespaced = crd["spec"]["scope"] == "Namespaced"
        for version in crd["spec"]["versions"]:
            if not version.get("storage"):
                continue
            base = f"/apis/{group}/{version['name']}"
            status, listing = self.plane.request("GET", f"{base}/{plural}")
            if status != 200:
                return
            for item in listing["items"]:
                meta = item["metadata"]
                path = (
                    f"{base}/namespaces/{meta['namespace']}/{plural}/{meta['name']}"
                    if namespaced
                    else f"{base}/{plural}/{meta['name']}"
                )
                if meta.get("finalizers"):
                    self.plane.request("PATCH", path, {"metadata": {"finalizers": None}})
                self.plane.request("DELETE", path)
            _wait(
                lambda b=base: self.plane.request("GET", f"{b}/{plural}")[1].get("items") in ([], None),
                f"{plural}.{group} emptied",
            )

    def _clear_builtins(self, ns: str, *, delete: bool) -> None:
        for template in NAMESPACED_BUILTINS:
            collection = template.format(ns=ns)
            status, listing = self.plane.request("GET", collection)
            if status != 200:
                continue
            resource = collection.rsplit("/", 1)[1]
            for item in listing["items"]:
                name = item["metadata"]["name"]
                path = f"{collection}/{name}"
                if item["metadata"].get("finalizers"):
                    self.plane.request("PATCH", path, {"metadata": {"finalizers": None}})
                if delete and (resource, name) not in KEEP:
                    self.plane.request("DELETE", path)
