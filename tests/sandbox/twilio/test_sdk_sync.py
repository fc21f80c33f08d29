"""The official twilio SDK's sync Client against the emulator, through BaseUrlHttpClient.

The sync client blocks, so each scenario runs in a worker thread while the emulator serves on the loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from twilio_operator.sandbox.twilio import TwilioEmulator
from twilio_operator.twilio.http import BaseUrlHttpClient

from .conftest import Api, made


def _client(emulator: TwilioEmulator, username: str, password: str, account_sid: str | None = None) -> Client:
    return Client(username, password, account_sid=account_sid, http_client=BaseUrlHttpClient(emulator.url))


async def _in_thread(scenario: Callable[[], None]) -> None:
    await asyncio.to_thread(scenario)


async def test_accounts_and_2010_keys(emulator: TwilioEmulator) -> None:
    def scenario() -> None:
        parent = _client(emulator, emulator.parent_sid, emulator.parent_token)
        sub = parent.api.v2010.accounts.create(friendly_name="tenant-a")
        assert sub.sid.startswith("AC") and sub.auth_token and sub.owner_account_sid == emulator.parent_sid
        assert sub.date_created is not None and sub.date_created.year >= 2024
        fetched = parent.api.v2010.accounts(sub.sid).fetch()
        assert fetched.friendly_name == "tenant-a" and fetched.status == "active"
        listed = parent.api.v2010.accounts.list(friendly_name="tenant-a")
        assert [a.sid for a in listed] == [sub.sid]
        suspended = parent.api.v2010.accounts(sub.sid).update(status="suspended")
        assert suspended.status == "suspended"
        parent.api.v2010.accounts(sub.sid).update(status="active")

        # Parent SID + Auth Token act on the subaccount's 2010 Keys.
        key = parent.api.v2010.accounts(sub.sid).new_keys.create(friendly_name="deploy")
        assert key.sid.startswith("SK") and len(key.secret) == 32
        assert [k.sid for k in parent.api.v2010.accounts(sub.sid).keys.list()] == [key.sid]
        assert parent.api.v2010.accounts(sub.sid).keys(key.sid).fetch().friendly_name == "deploy"
        assert (
            parent.api.v2010.accounts(sub.sid).keys(key.sid).update(friendly_name="d2").friendly_name == "d2"
        )
        # The same through a client whose account_sid is the subaccount.
        per_sub = _client(emulator, emulator.parent_sid, emulator.parent_token, account_sid=sub.sid)
        assert [k.sid for k in per_sub.api.v2010.account.keys.list()] == [key.sid]
        assert parent.api.v2010.accounts(sub.sid).keys(key.sid).delete() is True

        closed = parent.api.v2010.accounts(sub.sid).update(status="closed")
        assert closed.status == "closed"
        with pytest.raises(TwilioRestException) as reopen:
            parent.api.v2010.accounts(sub.sid).update(status="active")
        assert (reopen.value.status, reopen.value.code) == (400, 21479)

    await _in_thread(scenario)


async def test_iam_keys_services_senders_and_numbers(emulator: TwilioEmulator, api: Api) -> None:
    sub_info = await api.subaccount("tenant")
    pn = await api.buy_number(sub_info["sid"], "+14155550100")
    sc = await api.lease_short_code(sub_info["sid"], "12345")

    def scenario() -> None:
        sub = _client(emulator, sub_info["sid"], sub_info["auth_token"])
        restricted = sub.iam.v1.new_api_key.create(
            account_sid=sub_info["sid"],
            friendly_name="reader",
            key_type="restricted",
            policy={"allow": ["/twilio/messaging/services/read"]},
        )
        assert restricted.secret and restricted.policy == {"allow": ["/twilio/messaging/services/read"]}
        standard = sub.iam.v1.new_api_key.create(account_sid=sub_info["sid"], friendly_name="std")
        assert standard.policy is None
        listed = sub.iam.v1.get_api_keys.list(account_sid=sub_info["sid"])
        assert {k.sid for k in listed} == {restricted.sid, standard.sid}
        assert sub.iam.v1.api_key(restricted.sid).fetch().policy == {
            "allow": ["/twilio/messaging/services/read"]
        }
        assert sub.iam.v1.api_key(standard.sid).update(friendly_name="std2").friendly_name == "std2"
        assert sub.iam.v1.api_key(standard.sid).delete() is True

        # Key authentication: SK + secret, with account_sid for 2010 paths.
        as_key = _client(emulator, restricted.sid, restricted.secret, account_sid=sub_info["sid"])
        service = sub.messaging.v1.services.create(
            friendly_name="alerts",
            status_callback="https://hooks.example.com/status",
            inbound_request_url="https://hooks.example.com/in",
            sticky_sender=False,
            validity_period=600,
            use_inbound_webhook_on_number=True,
            scan_message_content="disable",
        )
        assert (service.account_sid, service.sticky_sender, service.validity_period) == (
            sub_info["sid"],
            False,
            600,
        )
        assert [s.sid for s in made(as_key.messaging.v1.services.list())] == [service.sid]
        with pytest.raises(TwilioRestException) as denied:
            as_key.messaging.v1.services.create(friendly_name="not allowed")
        assert (denied.value.status, denied.value.code) == (401, 20003)

        updated = sub.messaging.v1.services(service.sid).update(status_callback="", area_code_geomatch=False)
        assert (updated.status_callback, updated.area_code_geomatch) == (None, False)
        assert (
            sub.messaging.v1.services(service.sid).fetch().inbound_request_url
            == "https://hooks.example.com/in"
        )

        numbers = sub.api.v2010.accounts(sub_info["sid"]).incoming_phone_numbers.list(
            phone_number="+14155550100"
        )
        assert [n.sid for n in numbers] == [pn]
        assert (
            sub.api.v2010.accounts(sub_info["sid"]).incoming_phone_numbers(pn).fetch().phone_number
            == "+14155550100"
        )
        assert [c.sid for c in sub.api.v2010.accounts(sub_info["sid"]).short_codes.list()] == [sc]

        pool = sub.messaging.v1.services(service.sid)
        assert pool.phone_numbers.create(phone_number_sid=pn).phone_number == "+14155550100"
        assert [n.sid for n in pool.phone_numbers.list()] == [pn]
        assert pool.phone_numbers(pn).fetch().service_sid == service.sid
        with pytest.raises(TwilioRestException) as duplicate:
            pool.phone_numbers.create(phone_number_sid=pn)
        assert duplicate.value.code == 21710
        assert pool.short_codes.create(short_code_sid=sc).short_code == "12345"
        assert [c.sid for c in pool.short_codes.list()] == [sc]
        alpha = pool.alpha_senders.create(alpha_sender="ACME")
        assert [a.alpha_sender for a in pool.alpha_senders.list()] == ["ACME"]
        assert pool.alpha_senders(alpha.sid).fetch().alpha_sender == "ACME"
        assert pool.phone_numbers(pn).delete() is True
        assert pool.short_codes(sc).delete() is True
        assert pool.alpha_senders(alpha.sid).delete() is True
        assert sub.messaging.v1.services(service.sid).delete() is True

    await _in_thread(scenario)


async def test_credential_rules_and_error_types(emulator: TwilioEmulator, api: Api) -> None:
    sub_info = await api.subaccount("tenant")
    key = await api.key(sub_info["sid"])

    def scenario() -> None:
        parent = _client(emulator, emulator.parent_sid, emulator.parent_token)
        sub = _client(emulator, sub_info["sid"], sub_info["auth_token"])
        mine = sub.messaging.v1.services.create(friendly_name="sub's")
        parents = parent.messaging.v1.services.create(friendly_name="parent's")
        # Parent credentials on v1 reach the parent's own services only.
        assert [s.sid for s in made(parent.messaging.v1.services.list())] == [parents.sid]
        with pytest.raises(TwilioRestException) as not_found:
            parent.messaging.v1.services(mine.sid).fetch()
        assert (not_found.value.status, not_found.value.code) == (404, 20404)

        standard = _client(emulator, key["sid"], key["secret"], account_sid=sub_info["sid"])
        with pytest.raises(TwilioRestException) as create_denied:
            standard.api.v2010.account.new_keys.create(friendly_name="nope")
        assert (create_denied.value.status, create_denied.value.code) == (401, 20003)
        # List pages raise the plain TwilioException, with the response as its second argument.
        with pytest.raises(TwilioException) as list_denied:
            standard.api.v2010.account.keys.list()
        assert not isinstance(list_denied.value, TwilioRestException)
        assert list_denied.value.args[1].status_code == 401
        assert made(standard.messaging.v1.services.list())[0].sid == mine.sid

    await _in_thread(scenario)


async def test_paging_in_both_shapes(emulator: TwilioEmulator, api: Api) -> None:
    sub_info = await api.subaccount("tenant")
    for index in range(5):
        await api.key(sub_info["sid"], name=f"k{index}")
    await api.call("GET", "api", "/2010-04-01/Accounts.json", api.parent)

    def scenario() -> None:
        sub = _client(emulator, sub_info["sid"], sub_info["auth_token"])
        for index in range(5):
            sub.messaging.v1.services.create(friendly_name=f"s{index}")
            sub.iam.v1.new_api_key.create(account_sid=sub_info["sid"])
        assert len(sub.api.v2010.accounts(sub_info["sid"]).keys.list(page_size=2)) == 10
        assert [s.friendly_name for s in made(sub.messaging.v1.services.list(page_size=2))] == [
            f"s{i}" for i in range(5)
        ]
        assert len(sub.iam.v1.get_api_keys.list(account_sid=sub_info["sid"], page_size=3)) == 10

    before = len(emulator.requests())
    await _in_thread(scenario)
    operations = [r["operation"] for r in emulator.requests()[before:] if r["method"] == "GET"]
    # 10 keys in pages of 2, 5 services in pages of 2, 10 IAM keys in pages of 3.
    assert operations == ["ListKey"] * 5 + ["ListService"] * 3 + ["ListGetKeys"] * 4
