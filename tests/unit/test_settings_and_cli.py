from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from twilio_operator.runner import configure_logging, operator_settings
from twilio_operator.settings import ConfigurationError, Settings

SID = "AC" + "a" * 32


def run_operator(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "twilio_operator.cli", "run"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", **env},
        check=False,
        timeout=60,
    )


def test_run_without_credentials_fails_with_one_actionable_line() -> None:
    result = run_operator({})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "TWILIO_ACCOUNT_SID" in lines[0] and "TWILIO_AUTH_TOKEN" in lines[0]


def test_run_without_kubernetes_credentials_fails_with_one_line(tmp_path: Path) -> None:
    twilio = {"TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": "token", "HOME": str(tmp_path)}
    for extra, says in (({}, "no Kubernetes credentials"), ({"KUBECONFIG": str(tmp_path / "gone")}, "gone")):
        result = run_operator({**twilio, **extra})
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and says in lines[0] and "Kubernetes" in lines[0], result.stderr


def test_the_cli_says_what_it_is_and_its_version() -> None:
    described = subprocess.run(
        [sys.executable, "-m", "twilio_operator.cli", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "Twilio messaging accounts" in described and "run" in described
    version = subprocess.run(
        [sys.executable, "-m", "twilio_operator.cli", "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert version.startswith("twilio-operator ")
    run_help = subprocess.run(
        [sys.executable, "-m", "twilio_operator.cli", "run", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert all(variable in run_help for variable in ("KUBECONFIG", "TWILIO_ACCOUNT_SID", "TWILIO_OPERATOR_"))


def test_bad_settings_fail_with_one_line_naming_each_variable() -> None:
    result = run_operator(
        {
            "TWILIO_ACCOUNT_SID": SID,
            "TWILIO_AUTH_TOKEN": "supersecret-token",
            "TWILIO_OPERATOR_DRIFT_INTERVAL": "soon",
            "TWILIO_OPERATOR_PEERING_LIFETIME": "5",
        }
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "TWILIO_OPERATOR_DRIFT_INTERVAL: " in lines[0] and "TWILIO_OPERATOR_PEERING_LIFETIME: " in lines[0]
    assert "supersecret-token" not in result.stderr


def test_credentials_from_files_are_reread_when_they_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid_file, token_file = tmp_path / "sid", tmp_path / "token"
    sid_file.write_text(SID + "\n")
    token_file.write_text("first")
    monkeypatch.setenv("TWILIO_ACCOUNT_SID_FILE", str(sid_file))
    monkeypatch.setenv("TWILIO_AUTH_TOKEN_FILE", str(token_file))
    settings = Settings()
    assert settings.credentials() == (SID, "first")
    token_file.write_text("second")
    import os

    os.utime(token_file, (1, 1))  # a distinct mtime, as a Secret volume update gives
    assert settings.credentials() == (SID, "second")


def test_a_malformed_account_sid_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "SK" + "a" * 32)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "t")
    with pytest.raises(ConfigurationError, match="account SID"):
        Settings().credentials()


def test_the_token_never_shows_in_the_settings_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", SID)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "supersecret-token")
    assert "supersecret-token" not in repr(Settings())


def test_peering_lifetime_reaches_kopf_and_has_a_safe_floor(monkeypatch: pytest.MonkeyPatch) -> None:
    assert operator_settings(Settings()).peering.lifetime == 60  # kopf's own default
    monkeypatch.setenv("TWILIO_OPERATOR_PEERING_LIFETIME", "15")
    assert operator_settings(Settings()).peering.lifetime == 15
    monkeypatch.setenv("TWILIO_OPERATOR_PEERING_LIFETIME", "5")
    with pytest.raises(ValidationError, match="peering_lifetime"):
        Settings()


@pytest.mark.parametrize(
    ("log_format", "expected"),
    [("plain", "INFO    [ns/obj] Created: created SK1 in Twilio"), ("json", '"name": "obj"')],
)
def test_log_lines_about_an_object_name_it(log_format: str, expected: str) -> None:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        configure_logging(Settings(log_format=log_format))
        handler = next(h for h in root.handlers if h not in handlers)
        record = logging.LogRecord(
            "twilio_operator", logging.INFO, __file__, 1, "Created: created SK1 in Twilio", (), None
        )
        record.k8s_ref = {
            "apiVersion": "twilio.operator.dev/v1alpha1",
            "kind": "ApiKey",
            "namespace": "ns",
            "name": "obj",
        }
        assert expected in handler.format(record)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
