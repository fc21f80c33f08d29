"""`twilio-operator receiver` refuses a bad configuration with a line naming the setting, no traceback."""

from __future__ import annotations

import subprocess
from pathlib import Path

from twilio_operator.sandbox.processes import BIN


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "twilio-operator"), "receiver", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
    )


def test_bad_settings_name_the_variable() -> None:
    done = run("--database", "mysql://db/x")
    assert done.returncode == 2
    assert "TWILIO_RECEIVER_DATABASE" in done.stderr and "Traceback" not in done.stderr
    done = run(env={"TWILIO_RECEIVER_PUBLIC_URL": "hooks.example.com"})
    assert done.returncode == 2 and "TWILIO_RECEIVER_PUBLIC_URL" in done.stderr


def test_no_cluster_credentials_is_explained(tmp_path: Path) -> None:
    done = run(
        "--database", f"sqlite:///{tmp_path}/r.db", "--listen", "127.0.0.1:0", env={"HOME": str(tmp_path)}
    )
    assert done.returncode == 2
    assert "no Kubernetes credentials" in done.stderr and "Traceback" not in done.stderr


def test_export_of_an_empty_store_and_a_bad_since(tmp_path: Path) -> None:
    done = run("export", "--database", f"sqlite:///{tmp_path}/r.db", "--format", "csv")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("sid,accountSid,messagingServiceSid,from,to,status,errorCode")
    assert "0 messages" in done.stderr
    done = run("export", "--database", f"sqlite:///{tmp_path}/r.db", "--since", "yesterday")
    assert done.returncode == 2 and "Traceback" not in done.stderr


def test_archive_commands_without_a_cluster_or_with_bad_flags(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path}/r.db"
    done = run("archive", "fetch", "--day", "2026-01-31", "--database", database, env={"HOME": str(tmp_path)})
    assert done.returncode == 2
    assert "no Kubernetes credentials" in done.stderr and "Traceback" not in done.stderr
    done = run("archive", "fetch", "--day", "2026-01-31", "--account", "shop", "--database", database)
    assert done.returncode == 2 and "not an account SID" in done.stderr
    done = run("archive", "fetch", "--day", "2026-02-30", "--database", database)
    assert done.returncode == 2 and "--day" in done.stderr and "Traceback" not in done.stderr
    done = run("archive", "list", "--database", database)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["DAY", "ACCOUNT", "TYPE", "READY", "FETCHED", "MESSAGES"]
