"""The Dockerfile: hadolint-clean, the image conventions, and its install steps working in a clean venv.

These checks need neither root nor a builder; test_image.py builds the image itself and runs it (on a base
image made from Debian packages, since no container registry is reachable where the tests run). Here the
build stage's RUN steps are run as they are written, against a temporary root, with pip fed from an
offline wheelhouse, and the result must start.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.packaging.dockerfile import Stage, parse
from tests.packaging.wheelhouse import build_wheelhouse

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
BIN = Path(sys.executable).parent
STAGES = parse(DOCKERFILE)
FINAL = STAGES[-1]


def build_stage() -> Stage:
    """The stage the final one copies its virtualenv from."""
    (copy,) = [i for i in FINAL.all("COPY") if i.args.startswith("--from=")]
    name = copy.args.split()[0].removeprefix("--from=")
    return next(s for s in STAGES if s.name == name)


def test_hadolint_finds_nothing() -> None:
    result = subprocess.run(
        [str(BIN / "hadolint"), "--no-color", "--failure-threshold", "warning", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stdout.strip()) == (0, ""), result.stdout + result.stderr


def test_base_image_is_a_pinned_slim_python() -> None:
    for stage in STAGES:
        assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-[a-z]+", stage.image), (
            f"pin the base by full version, e.g. python:3.11.14-slim-bookworm, not {stage.image}"
        )
    assert len({s.image for s in STAGES}) == 1, "build and final stage must share one base (same Python)"
    assert FINAL.labels()["org.opencontainers.image.base.name"].endswith(FINAL.image)


def test_runs_as_a_fixed_non_root_uid() -> None:
    user = FINAL.last("USER").args
    assert re.fullmatch(r"[1-9]\d*:[1-9]\d*", user), f"USER must be numeric UID:GID, not root: {user}"


def test_entrypoint_runs_the_operator_with_the_liveness_endpoint() -> None:
    assert FINAL.last("ENTRYPOINT").exec_form() == ["twilio-operator", "run"]
    (liveness,) = FINAL.last("CMD").exec_form()
    match = re.fullmatch(r"--liveness=http://0\.0\.0\.0:(\d+)/healthz", liveness)
    assert match, liveness
    assert FINAL.last("EXPOSE").args == match.group(1)
    assert not FINAL.all("HEALTHCHECK"), "Kubernetes probes use the liveness endpoint; no HEALTHCHECK"


def test_oci_labels() -> None:
    labels = FINAL.labels()
    for key in ("title", "description", "licenses", "source", "version", "revision"):
        assert f"org.opencontainers.image.{key}" in labels, key


def test_read_only_root_friendly() -> None:
    env = FINAL.env()
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["HOME"] == env["TMPDIR"] == "/tmp"


def test_dockerignore_keeps_local_state_out() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    assert "*" in lines, ".dockerignore should exclude everything and re-include what the build copies"
    copied = {
        word.rstrip("/")
        for stage in STAGES
        for i in stage.all("COPY")
        if not i.args.startswith("--from=")
        for word in i.args.split()[:-1]
    }
    assert copied == {line.removeprefix("!").rstrip("/") for line in lines if line.startswith("!")}


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # The runtime dependencies, and what pyproject.toml's build-system needs to build the wheel.
    dest = tmp_path_factory.mktemp("wheelhouse")
    build_wheelhouse(dest, "twilio-operator", extra_roots=["setuptools", "wheel"])
    return dest


def _rooted(value: str, root: Path) -> str:
    return str(root) + value if value.startswith("/") else value


def test_install_steps_work_in_a_clean_venv(tmp_path: Path, wheelhouse: Path) -> None:
    stage = build_stage()
    root = tmp_path / "root"
    # Every absolute path the stage names lives under a temporary root; the RUN steps see them through
    # the ENV names only (the Dockerfile keeps literal paths out of RUN for this).
    env_values = {key: _rooted(value, root) for key, value in stage.env().items()}
    shims = tmp_path / "shims"
    shims.mkdir()
    (shims / "python3").symlink_to(sys.executable)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "TWILIO", "VIRTUAL_ENV"))},
        **env_values,
        "PATH": f"{shims}{os.pathsep}{os.environ['PATH']}",
        # Offline: wheels from the wheelhouse only, no user or site pip configuration.
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(wheelhouse),
        "PIP_CONFIG_FILE": os.devnull,
        # Byte-compiling twilio's thousands of modules doubles the runtime and proves nothing here.
        "PIP_NO_COMPILE": "1",
    }
    workdir = root / "."
    for instruction in stage.instructions:
        if instruction.keyword == "WORKDIR":
            workdir = Path(_rooted(instruction.args, root))
            workdir.mkdir(parents=True, exist_ok=True)
        elif instruction.keyword == "COPY":
            *sources, dest = instruction.args.split()
            target = workdir / dest
            for source in sources:
                if (ROOT / source).is_dir():
                    shutil.copytree(
                        ROOT / source,
                        target,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
                        dirs_exist_ok=True,
                    )
                else:
                    target.mkdir(parents=True, exist_ok=True)
                    shutil.copy(ROOT / source, target)
        elif instruction.keyword == "RUN":
            literal = re.findall(r"(?<![\w$}])/(?:opt|src|tmp|usr|wheels)\b\S*", instruction.args)
            assert not literal, f"RUN names paths literally ({literal}); use the ENV names"
            result = subprocess.run(
                ["sh", "-c", instruction.args],
                cwd=workdir,
                env=env,
                capture_output=True,
                text=True,
                timeout=240,
                check=False,
            )
            assert result.returncode == 0, f"RUN {instruction.args}\n{result.stdout[-3000:]}{result.stderr}"

    # The final stage copies the virtualenv to the same path (its scripts' shebangs name that path).
    (copy,) = [i for i in FINAL.all("COPY") if i.args.startswith("--from=")]
    _, source, dest = copy.args.split()
    assert source == dest == stage.env()["VIRTUAL_ENV"]
    venv = Path(_rooted(dest, root))
    entrypoint = FINAL.last("ENTRYPOINT").exec_form()
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith("TWILIO")}

    version = subprocess.run(
        [str(venv / "bin" / entrypoint[0]), "version"], capture_output=True, text=True, check=False
    )
    assert version.returncode == 0 and version.stdout.startswith("twilio-operator "), version.stderr

    # ENTRYPOINT + CMD as the image runs them: the arguments parse, and with no credentials the operator
    # says what to set (exit 2) instead of crashing.
    started = subprocess.run(
        [str(venv / "bin" / entrypoint[0]), *entrypoint[1:], *FINAL.last("CMD").exec_form()],
        capture_output=True,
        text=True,
        env=clean_env,
        timeout=60,
        check=False,
    )
    assert started.returncode == 2 and "TWILIO_ACCOUNT_SID" in started.stderr, started.stderr

    # Everything `run` imports is installed: the runtime dependencies are complete without any extras.
    imported = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import twilio_operator.runner"],
        capture_output=True,
        text=True,
        env=clean_env,
        check=False,
    )
    assert imported.returncode == 0, imported.stderr
