"""The container image, built from the Dockerfile and run: what test_dockerfile.py can only read.

No container registry is reachable where the tests run, so scripts/image.sh first makes the Dockerfile's
base image (python:X.Y.Z-slim-SUITE) from Debian packages with debootstrap and this machine's CPython X.Y,
tagged with the FROM name (cached in the script's own image store while its recipe is unchanged), then
builds the Dockerfile unchanged with `buildah bud --isolation chroot --pull=never`. The commands run with
`buildah run --isolation chroot`: `podman run` cannot start containers on these machines (crun may not set
RLIMIT_NOFILE), and no Docker engine runs.

Needs root, buildah and debootstrap: `make image-test`. Without them the tests are skipped, except in CI
(CI=true), where that is a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.packaging.dockerfile import parse

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "image.sh"
STAGES = parse(ROOT / "Dockerfile")
FINAL = STAGES[-1]
TAG = "localhost/twilio-operator:test"
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]

# A cold run (debootstrap, the base, pip from PyPI in the build stage) took 1.5 to 2 minutes on 2 cores.
pytestmark = pytest.mark.timeout(1200)


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "building the image needs root (debootstrap, chroot, the image store)"
    for tool in ("buildah", "debootstrap"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install buildah debootstrap)"
    return None


def _script(*args: str, timeout: float = 900) -> str:
    result = subprocess.run(
        [str(SCRIPT), *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, (
        f"scripts/image.sh {' '.join(args)}\n{result.stdout[-3000:]}{result.stderr[-6000:]}"
    )
    return result.stdout


class Container:
    """A working container from an image, in the script's store; commands run as the image's USER.

    A command writes its output to files in the container, read back through the container's mount:
    buildah relays output through a pipe, and on these machines that once lost a short command's output
    (exit 0, nothing on stdout) in a cold run.
    """

    OUT, ERR = "tmp/.image-test-stdout", "tmp/.image-test-stderr"

    def __init__(self, image: str) -> None:
        self.id = _script("buildah", "from", "--pull=never", image).strip()
        self.root = Path(_script("buildah", "mount", self.id).strip())

    def run(self, *command: str) -> subprocess.CompletedProcess[str]:
        for name in (self.OUT, self.ERR):
            (self.root / name).unlink(missing_ok=True)
        redirect = f'exec "$@" >/{self.OUT} 2>/{self.ERR}'
        buildah_run = [str(SCRIPT), "buildah", "run", "--isolation", "chroot", self.id, "--"]
        result = subprocess.run(
            [*buildah_run, "sh", "-c", redirect, "sh", *command],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        out, err = (self.root / self.OUT, self.root / self.ERR)
        return subprocess.CompletedProcess(
            list(command),
            result.returncode,
            out.read_text() if out.exists() else "",
            (err.read_text() if err.exists() else "") + result.stderr,
        )

    def output(self, *command: str) -> str:
        result = self.run(*command)
        assert result.returncode == 0, f"{command}: {result.stdout}{result.stderr}"
        return result.stdout

    def remove(self) -> None:
        _script("buildah", "umount", self.id)
        _script("buildah", "rm", self.id)


def _config(image: str) -> dict[str, Any]:
    inspected = json.loads(_script("buildah", "inspect", "--type", "image", image))
    config: dict[str, Any] = inspected["OCIv1"]["config"]
    return config


@pytest.fixture(scope="module")
def image() -> str:
    reason = _missing()
    if reason is not None:
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(f"CI builds the image: {reason}", pytrace=False)
        pytest.skip(reason)
    _script("base")
    built = _script("build", TAG).strip().splitlines()[-1]
    assert built == TAG
    return TAG


@pytest.fixture(scope="module")
def container(image: str) -> Iterator[Container]:
    ctr = Container(image)
    yield ctr
    ctr.remove()


@pytest.fixture(scope="module")
def base_container(image: str) -> Iterator[Container]:
    ctr = Container(FINAL.image)
    yield ctr
    ctr.remove()


def test_version_runs_inside_the_image(container: Container) -> None:
    assert container.output("twilio-operator", "version") == f"twilio-operator {VERSION}\n"


def test_runs_as_the_fixed_non_root_uid(image: str, container: Container) -> None:
    user = FINAL.last("USER").args
    assert _config(image)["User"] == user == "65532:65532"
    assert container.output("id", "-u").strip() == "65532"
    assert container.output("id", "-g").strip() == "65532"


def test_entrypoint_and_cmd_start_the_operator(image: str, container: Container) -> None:
    config = _config(image)
    assert config["Entrypoint"] == FINAL.last("ENTRYPOINT").exec_form() == ["twilio-operator", "run"]
    assert config["Cmd"] == FINAL.last("CMD").exec_form()
    # As the image starts: with no credentials the operator says what to set (exit 2), no traceback.
    started = container.run(*config["Entrypoint"], *config["Cmd"])
    assert started.returncode == 2, started.stdout + started.stderr
    assert "TWILIO_ACCOUNT_SID" in started.stderr and "Traceback" not in started.stderr, started.stderr


def test_environment_and_labels(image: str) -> None:
    config = _config(image)
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["PATH"].startswith("/opt/twilio-operator/bin:")
    assert env["HOME"] == env["TMPDIR"] == "/tmp"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    labels = config["Labels"]
    assert labels["org.opencontainers.image.version"] == VERSION
    revision = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    assert labels["org.opencontainers.image.revision"] == (revision.stdout.strip() or "unknown")
    assert "8080/tcp" in config.get("ExposedPorts", {})


def test_base_has_the_dockerfiles_debian_release_and_python(container: Container) -> None:
    match = re.fullmatch(r"python:(\d+)\.(\d+)\.\d+-slim-([a-z]+)", FINAL.image)
    assert match, FINAL.image
    major, minor, suite = match.groups()
    assert container.output("python3", "-c", "import sys; print(*sys.version_info[:2])").split() == [
        major,
        minor,
    ]
    os_release = dict(
        line.split("=", 1) for line in container.output("cat", "/etc/os-release").splitlines() if "=" in line
    )
    assert os_release["VERSION_CODENAME"] == suite
    # The operator's virtualenv runs on the base's interpreter and has no pip of its own.
    venv_python = container.output("readlink", "-f", "/opt/twilio-operator/bin/python").strip()
    assert venv_python == f"/usr/local/bin/python{major}.{minor}"
    assert container.run("test", "-e", "/opt/twilio-operator/bin/pip").returncode == 1


def test_the_build_leaves_no_host_ca_or_pip_config(container: Container, base_container: Container) -> None:
    # The host's CA bundle and a pip.conf are bind-mounted into the build's RUN steps only.
    bundle = "/etc/ssl/certs/ca-certificates.crt"
    assert container.output("sha256sum", bundle) == base_container.output("sha256sum", bundle)
    assert container.run("test", "-e", "/etc/pip.conf").returncode == 1
