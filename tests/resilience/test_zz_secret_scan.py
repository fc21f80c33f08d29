"""Last in the suite: no secret text anywhere the operator writes besides its Secrets.

Secret text is every API key secret and exported auth token any resilience test saw (rotated-out ones too),
every subaccount's auth token and the parent's. Output is every log line of every operator process the suite
ran (crashed ones included), every Event, and every custom resource (status, annotations) in the cluster.
"""

from __future__ import annotations

import json

from chaos.control import TwilioSide, lines_with_secrets, secret_values

from tests.resilience.conftest import Captured
from tests.resilience.helpers import SEEN_SECRETS
from twilio_operator.sandbox.kubectl import Kubectl
from twilio_operator.sandbox.processes import OperatorProcess


def test_no_secret_text_in_any_log_event_or_status(
    session_kubectl: Kubectl, twilio: TwilioSide, captured: Captured, session_operator: OperatorProcess
) -> None:
    secrets = set(captured.secrets) | SEEN_SECRETS | set(twilio.auth_tokens().values())
    secrets |= secret_values(
        json.loads(session_kubectl.run("get", "secrets", "-A", "-o", "json").stdout)["items"]
    )
    events = session_kubectl.run("get", "events", "-A", "-o", "json").stdout
    objects = session_kubectl.run("get", "twilio", "-A", "-o", "json").stdout
    logs = captured.logs()
    assert logs, "no operator output was captured"
    found = lines_with_secrets("\n".join([logs, events, objects]), secrets)
    print(f"\nscanned {len(logs.splitlines())} log lines, events and objects for {len(secrets)} secrets")
    assert found == [], f"secret text outside Secrets: {[line[:160] for line in found[:5]]}"
