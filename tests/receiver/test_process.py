"""The receiver as a real process on the sandbox: Twilio's callbacks through the stand-in Ingress, tokens from
watched Secrets, lost callbacks repaired, export, and no token in its log."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.support.receiver import sid, signed_form
from twilio_operator.sandbox.kubectl import Kubectl
from twilio_operator.sandbox.processes import BIN, wait_for
from twilio_operator.sandbox.receiver import ReceiverProcess
from twilio_operator.sandbox.traffic import Tenant, Traffic, credentials_secret

HOST = "hooks.receiver-e2e.example.com"
PUBLIC = f"https://{HOST}"
FAST = {"message_time_scale": 0.05}


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def watched_tenant(
    receiver: ReceiverProcess,
    traffic: Traffic,
    kubectl: Kubectl,
    namespace: str,
    name: str,
    number: str,
    **faults: float,
) -> Tenant:
    """A subaccount whose status callbacks reach the receiver through the stand-in Ingress, with its
    credentials Secret read by the receiver; callbacks lost, duplicated or reordered at ``faults`` rates."""
    rates = {"callback_drop_rate": 0.0, "callback_duplicate_rate": 0.0, "callback_reorder_rate": 0.0}
    traffic.configure(**FAST, **(rates | faults))
    traffic.route(HOST, receiver.url)
    tenant = traffic.tenant(name, f"{PUBLIC}/twilio/status", number)
    kubectl.apply(credentials_secret(f"{name}-twilio", namespace, name, tenant))
    # The Secret is watched: the receiver knows the account within seconds, without a restart.
    wait_for(lambda: "twilio_receiver_credentials_accounts 1.0" in metrics(receiver), 10, what="credentials")
    return tenant


def stored_matches_truth(receiver: ReceiverProcess, traffic: Traffic, account_sid: str) -> bool:
    for message in traffic.messages(account_sid)["messages"]:
        try:
            stored = get(f"{receiver.url}/api/messages/{message['sid']}")
        except urllib.error.HTTPError:
            return False
        if (stored["status"], stored["errorCode"]) != (message["final_status"], message["final_error_code"]):
            return False
    return True


def test_callbacks_stored_and_lost_ones_repaired(
    receiver: ReceiverProcess, traffic: Traffic, kubectl: Kubectl, namespace: str, tmp_path: Path
) -> None:
    tenant = watched_tenant(
        receiver,
        traffic,
        kubectl,
        namespace,
        "e2e",
        "+14155550142",
        callback_drop_rate=0.2,
        callback_duplicate_rate=0.1,
        callback_reorder_rate=0.1,
    )
    sids = [traffic.send(tenant, f"+1415555{1000 + i}") for i in range(30)]
    wait_for(traffic.settled, 30, what="messages settled")
    wait_for(
        lambda: stored_matches_truth(receiver, traffic, tenant.account_sid),
        30,
        interval=0.5,
        what="store equals truth",
    )
    truth = traffic.messages(tenant.account_sid)["messages"]
    dropped = {m["sid"] for m in truth if any(cb["fault"] == "dropped" for cb in m["callbacks"])}
    final_dropped = {m["sid"] for m in truth if m["callbacks"] and m["callbacks"][-1]["fault"] == "dropped"}
    assert dropped and final_dropped, "the seeded run should lose some callbacks, final ones too"
    # Every message whose final callback was lost got its final status from a repair fetch.
    repaired = {m["sid"] for m in truth if get(f"{receiver.url}/api/messages/{m['sid']}")["repaired"]}
    assert repaired == final_dropped
    text = metrics(receiver)
    assert "twilio_receiver_repairs_total" in text and 'result="updated"' in text
    summary = get(f"{receiver.url}/api/summary")
    [group] = summary["groups"]
    assert group["subaccount"] == "e2e"
    assert group["windows"]["hour"]["sent"] == len(sids)
    # Export: every message, as JSON lines.
    exported = subprocess.run(
        [str(BIN / "twilio-operator"), "receiver", "export", "--database", receiver.database],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = [json.loads(line) for line in exported.stdout.splitlines()]
    assert {r["sid"] for r in rows} == set(sids)
    assert tenant.auth_token not in receiver.all_logs()


def metrics(receiver: ReceiverProcess) -> str:
    with urllib.request.urlopen(f"{receiver.url}/metrics", timeout=10) as response:
        return response.read().decode()


def test_rotated_and_new_tokens_work_without_restart(
    receiver: ReceiverProcess, traffic: Traffic, kubectl: Kubectl, namespace: str
) -> None:
    account = sid("AC")
    old, new = "1" * 32, "2" * 32

    def secret(token: str) -> str:
        return credentials_secret("rotating", namespace, "rotating", Tenant(account, token, sid("MG"), "+1"))

    def deliver(token: str) -> int:
        params = {"AccountSid": account, "MessageSid": sid("SM"), "MessageStatus": "sent"}
        body, headers = signed_form(token, f"{receiver.url}/twilio/status", params)
        return post(f"{receiver.url}/twilio/status", body, headers)

    assert deliver(old) == 403  # unknown account
    kubectl.apply(secret(old))
    wait_for(lambda: deliver(old) == 200, 10, interval=0.2, what="new account accepted")
    kubectl.apply(secret(new))
    wait_for(lambda: deliver(new) == 200, 10, interval=0.2, what="rotated token accepted")
    assert deliver(old) == 403
    logs = receiver.all_logs()
    assert old not in logs and new not in logs
    assert "bad_signature" in logs and "unknown_account" in logs


def test_messages_sent_while_the_receiver_was_down_are_caught_up(
    receiver: ReceiverProcess, traffic: Traffic, kubectl: Kubectl, namespace: str
) -> None:
    tenant = watched_tenant(receiver, traffic, kubectl, namespace, "outage", "+14155550143")
    before = [traffic.send(tenant, f"+1415555{1100 + i}") for i in range(3)]
    wait_for(lambda: stored_matches_truth(receiver, traffic, tenant.account_sid), 20, what="first messages")
    receiver.kill()
    during = [traffic.send(tenant, f"+1415555{1200 + i}") for i in range(10)]
    wait_for(traffic.settled, 30, what="messages settled while the receiver is down")
    lost = [m for m in traffic.messages(tenant.account_sid)["messages"] if m["sid"] in during]
    assert all(a != 200 for m in lost for cb in m["callbacks"] for a in cb["attempts"])  # every callback lost
    receiver.start()
    receiver.wait_ready()
    # On start the receiver lists what Twilio sent since its last stored event.
    wait_for(
        lambda: stored_matches_truth(receiver, traffic, tenant.account_sid),
        30,
        interval=0.5,
        what="caught up",
    )
    assert all(get(f"{receiver.url}/api/messages/{sid}")["repaired"] for sid in during)
    assert not any(get(f"{receiver.url}/api/messages/{sid}")["repaired"] for sid in before)
    assert 'result="discovered"' in metrics(receiver)


def test_a_days_archive_fetched_in_the_receivers_pod_after_every_callback_was_lost(
    receiver: ReceiverProcess, traffic: Traffic, kubectl: Kubectl, namespace: str
) -> None:
    tenant = watched_tenant(
        receiver, traffic, kubectl, namespace, "archive", "+14155550144", callback_drop_rate=1.0
    )
    traffic.enable_archives(tenant, f"{PUBLIC}/twilio/archives")
    sids = [traffic.send(tenant, f"+1415555{1300 + i}") for i in range(6)]
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    wait_for(traffic.settled, 30, what="messages settled")
    assert all(get_status(receiver, sid) == 404 for sid in sids)  # every callback was lost
    size = traffic.archive_day(tenant, day)
    wait_for(
        lambda: get(f"{receiver.url}/api/archive-days")["archiveDays"], 10, what="the day's notification"
    )
    assert 'twilio_receiver_archive_days_total{subaccount="archive"} 1.0' in metrics(receiver)

    done = receiver.command("archive", "fetch", "--day", day)
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        f"{tenant.account_sid} (archive) {day}: 6 messages in the archive, 6 stored or moved forward\n"
    )
    assert stored_matches_truth(receiver, traffic, tenant.account_sid)
    assert all(get(f"{receiver.url}/api/messages/{sid}")["repaired"] for sid in sids)
    [recorded] = get(f"{receiver.url}/api/archive-days")["archiveDays"]
    assert (recorded["day"], recorded["size"], recorded["messages"]) == (day, size, 6)
    assert recorded["notifiedAt"] and recorded["fetchedAt"]
    listed = receiver.command("archive", "list")
    assert listed.returncode == 0, listed.stderr
    assert any(line.startswith(day) and tenant.account_sid in line for line in listed.stdout.splitlines())

    # A day Twilio has not made ready: said for the account, and the command fails.
    missing = receiver.command("archive", "fetch", "--day", "2001-01-01", "--account", tenant.account_sid)
    assert missing.returncode == 1 and missing.stdout == ""
    assert f"{tenant.account_sid} (archive) 2001-01-01: the 2001-01-01 archive is not ready" in missing.stderr
    stranger = receiver.command("archive", "fetch", "--day", day, "--account", "AC" + "0" * 32)
    assert stranger.returncode == 1 and "no credentials Secret for this account" in stranger.stderr
    bad = receiver.command("archive", "fetch", "--day", "31/01/2026")
    assert bad.returncode == 2 and "--day" in bad.stderr and "Traceback" not in bad.stderr
    for output in (done, listed, missing, stranger):
        assert tenant.auth_token not in output.stdout + output.stderr


def get_status(receiver: ReceiverProcess, sid: str) -> int:
    try:
        get(f"{receiver.url}/api/messages/{sid}")
    except urllib.error.HTTPError as error:
        return error.code
    return 200


def test_event_streams_deliveries_store_every_fate_without_a_single_status_callback(
    receiver: ReceiverProcess, traffic: Traffic, kubectl: Kubectl, namespace: str
) -> None:
    tenant = watched_tenant(
        receiver, traffic, kubectl, namespace, "streamed", "+14155550145", callback_drop_rate=1.0
    )
    finals = ("delivered", "failed", "undelivered")
    types = [f"com.twilio.messaging.message.{status}" for status in ("sent", *finals)]
    traffic.stream(tenant, f"{PUBLIC}/twilio/events", types)
    sids = [traffic.send(tenant, f"+1415555{1400 + i}") for i in range(8)]
    wait_for(traffic.settled, 30, what="messages settled")
    wait_for(
        lambda: stored_matches_truth(receiver, traffic, tenant.account_sid),
        30,
        interval=0.5,
        what="store equals truth from the stream alone",
    )
    for message_sid in sids:
        stored = get(f"{receiver.url}/api/messages/{message_sid}")
        assert not stored["repaired"]
        streamed = [e for e in stored["events"] if e["source"] == "event"]
        assert streamed and all(e["payload"]["specversion"] == "1.0" for e in streamed)
        assert streamed[-1]["payload"]["type"] == f"com.twilio.messaging.message.{stored['status']}"
    # What the emulator delivered: one signed delivery per subscribed status change, each taken at once.
    [sink] = [s for s in traffic.control.state()["sinks"] if s["account"] == tenant.account_sid]
    assert sink["deliveries"] and all(d["attempts"] == [200] for d in sink["deliveries"])
    assert {d["message"] for d in sink["deliveries"]} == set(sids)
