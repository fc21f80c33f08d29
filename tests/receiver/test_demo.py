"""`twilio-operator demo` (what `make demo` runs) ends with the delivery page matching what was sent."""

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
    assert "demo succeeded" in done.stdout
