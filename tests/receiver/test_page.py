"""The delivery page in a real browser (headless Chromium): it shows the numbers the API returns."""

from __future__ import annotations

import json
import os
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from tests.support.chromium import chromium, dump_dom, screenshot
from twilio_operator.sandbox.kubectl import Kubectl
from twilio_operator.sandbox.processes import wait_for
from twilio_operator.sandbox.receiver import ReceiverProcess
from twilio_operator.sandbox.traffic import Traffic, credentials_secret

HOST = "hooks.receiver-page.example.com"
ROOT = Path(__file__).resolve().parents[2]
# Kept after the run (and uploaded by CI where it keeps artefacts): what the page looked like.
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", ROOT / ".cache" / "test-artifacts"))


class Cells(HTMLParser):
    """Every element carrying data-group/data-window/data-field, with its data-value and visible text."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[tuple[str, str, str], tuple[str, str]] = {}
        self.failures: list[str] = []
        self._open: tuple[str, str, str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if {"data-group", "data-window", "data-field"} <= found.keys():
            key = (found["data-group"], found["data-window"], found["data-field"])
            self._open = (*key, found.get("data-value", ""))
        if tag == "tr" and "data-sid" in found:
            self.failures.append(found["data-sid"])

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            group, window, field, value = self._open
            self.cells[(group, window, field)] = (value, data.strip())
            self._open = None


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def test_page_shows_what_the_api_returns(
    receiver: ReceiverProcess, traffic: Traffic, kubectl: Kubectl, namespace: str
) -> None:
    assert chromium() is not None, "Chromium is not installed: apt-get install chromium (.ci/run does)"
    traffic.configure(message_time_scale=0.05, callback_drop_rate=0.0, callback_duplicate_rate=0.1)
    traffic.route(HOST, receiver.url)
    tenant = traffic.tenant("page", f"https://{HOST}/twilio/status", "+14155550177")
    kubectl.apply(credentials_secret("page-twilio", namespace, "page", tenant))
    wait_for(
        lambda: (
            "credentials_accounts 1.0" in urllib.request.urlopen(f"{receiver.url}/metrics").read().decode()
        ),
        10,
        what="credentials",
    )
    for i in range(40):
        traffic.send(tenant, f"+1415555{2000 + i}")
    wait_for(traffic.settled, 30, what="messages settled")
    truth = traffic.messages(tenant.account_sid)["messages"]
    failed = sum(1 for m in truth if m["final_status"] in ("failed", "undelivered"))

    def complete() -> bool:
        hour = get(f"{receiver.url}/api/summary")["groups"][0]["windows"]["hour"]
        return bool(hour["delivered"] + hour["undelivered"] + hour["failed"] == len(truth))

    wait_for(complete, 30, interval=0.5, what="every outcome stored")
    summary = get(f"{receiver.url}/api/summary")
    page = Cells()
    page.feed(dump_dom(receiver.url + "/"))
    [group] = summary["groups"]
    key = f"{group['subaccount']}/{group['service']}"
    assert key == "page/unknown"  # no MessagingService object in this namespace names the service
    for window, numbers in group["windows"].items():
        for field, value in numbers.items():
            shown_value, text = page.cells[(key, window, field)]
            assert shown_value == ("" if value is None else str(value)), (window, field)
            if field in ("sent", "delivered", "undelivered", "failed"):
                assert text == str(value)
    hour = group["windows"]["hour"]
    assert hour["sent"] == 40 and hour["undelivered"] + hour["failed"] == failed
    assert page.failures == [f["sid"] for f in summary["recentFailures"]]
    shot = screenshot(receiver.url + "/", ARTIFACTS / "receiver-page.png")
    assert shot.stat().st_size > 10_000
    print(f"screenshot of the delivery page: {shot}")
