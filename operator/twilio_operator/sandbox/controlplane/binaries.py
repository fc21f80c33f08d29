"""Where the control plane's programs are: scripts/controlplane.sh builds them into a cache keyed by the
versions in versions.env, and this finds them there (or where TWILIO_SANDBOX_CONTROLPLANE_BIN says)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import ControlPlaneUnavailable

PROGRAMS = ("etcd", "kube-apiserver", "kube-controller-manager")
VERSIONS_FILE = Path(__file__).with_name("versions.env")
BIN_ENV = "TWILIO_SANDBOX_CONTROLPLANE_BIN"


@dataclass(frozen=True)
class Versions:
    kubernetes: str
    etcd: str


def versions() -> Versions:
    values: dict[str, str] = {}
    for line in VERSIONS_FILE.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.startswith("#"):
            values[key.strip()] = value.strip()
    return Versions(kubernetes=values["KUBERNETES_VERSION"], etcd=values["ETCD_VERSION"])


def cache_bin_dir(environ: os._Environ[str] | dict[str, str] = os.environ) -> Path:
    """The directory scripts/controlplane.sh builds into (the same rule as the script's)."""
    root = environ.get("TWILIO_CONTROLPLANE_CACHE")
    if root is None:
        base = environ.get("XDG_CACHE_HOME") or str(Path(environ.get("HOME", "~")).expanduser() / ".cache")
        root = str(Path(base) / "twilio-operator" / "controlplane")
    v = versions()
    return Path(root) / f"k8s-{v.kubernetes}-etcd-{v.etcd}" / "bin"


def find(environ: os._Environ[str] | dict[str, str] = os.environ) -> Path:
    """The directory holding all three programs, or ControlPlaneUnavailable naming what to run."""
    explicit = environ.get(BIN_ENV)
    directory = Path(explicit) if explicit else cache_bin_dir(environ)
    missing = [p for p in PROGRAMS if not os.access(directory / p, os.X_OK)]
    if missing:
        how = (
            f"{BIN_ENV}={explicit} lacks {', '.join(missing)}"
            if explicit
            else f"{', '.join(missing)} not built in {directory}: run scripts/controlplane.sh (needs Go)"
        )
        raise ControlPlaneUnavailable(how)
    return directory
