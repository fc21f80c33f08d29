"""`twilio-operator demo` (what `make demo` runs): the delivery page matches what was sent, and it ends with
the month's spend, a usage alert that fired (an Event, and the receiver's record) and the tree."""

from __future__ import annotations

import re
import subprocess

from twilio_operator.sandbox.processes import BIN


def test_demo_sends_messages_and_the_page_matches() -> None:
    done = subprocess.run(
        [str(BIN / "twilio-operator"), "demo"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    truth = re.search(r"Twilio's truth: (\d+) delivered, (\d+) undelivered, (\d+) failed", done.stdout)
    assert truth is not None, done.stdout[-2000:]
    delivered, undelivered, failed = map(int, truth.groups())
    assert delivered + undelivered + failed == 40
    assert delivered and undelivered and failed, "the page shows delivered and failed messages"
    assert re.search(r"the page shows the same numbers: http://127\.0\.0\.1:\d+/", done.stdout)
    sent = delivered + undelivered
    assert re.search(rf"development .* active +{sent} +{sent * 0.0079:.2f} USD", done.stdout), done.stdout[
        -2000:
    ]
    assert re.search(
        r"Event Warning UsageAlert on twiliosubaccount/development: usage alert monthly-volume fired",
        done.stdout,
    )
    assert "the receiver recorded Twilio's signed callback: monthly-volume of development" in done.stdout
    tree = done.stdout.split("$ twilio-operator tree -n acme-dev\n", 1)[1]
    assert f"this month {sent * 0.0079:.2f} USD, {sent} messages, alerts fired: monthly-volume" in tree
    assert "demo succeeded" in done.stdout
