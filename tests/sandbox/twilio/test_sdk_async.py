"""The official twilio SDK's async client against the emulator, through BaseUrlAsyncHttpClient."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from twilio_operator.sandbox.twilio import TwilioEmulator
from twilio_operator.twilio.http import BaseUrlAsyncHttpClient

from .conftest import Api, made


@pytest.fixture
async def http(emulator: TwilioEmulator) -> AsyncIterator[BaseUrlAsyncHttpClient]:
    client = BaseUrlAsyncHttpClient(emulator.url, timeout=5.0)
    try:
        yield client
    finally:
        await client.close()


async def test_accounts_and_2010_keys(emulator: TwilioEmulator, http: BaseUrlAsyncHttpClient) -> None:
    parent = Client(emulator.parent_sid, emulator.parent_token, http_client=http)
    sub = await parent.api.v2010.accounts.create_async(friendly_name="tenant-a")
    assert sub.auth_token and sub.owner_account_sid == emulator.parent_sid
    assert (await parent.api.v2010.accounts(sub.sid).fetch_async()).friendly_name == "tenant-a"
    assert [a.sid for a in await parent.api.v2010.accounts.list_async(status="active")] == [
        emulator.parent_sid,
        sub.sid,
    ]
    assert (await parent.api.v2010.accounts(sub.sid).update_async(status="suspended")).status == "suspended"

    key = await parent.api.v2010.accounts(sub.sid).new_keys.create_async(friendly_name="k")
    assert key.secret
    assert [k.sid for k in await parent.api.v2010.accounts(sub.sid).keys.list_async()] == [key.sid]
    assert (await parent.api.v2010.accounts(sub.sid).keys(key.sid).fetch_async()).friendly_name == "k"
    assert (
        await parent.api.v2010.accounts(sub.sid).keys(key.sid).update_async(friendly_name="k2")
    ).friendly_name == "k2"
    assert await parent.api.v2010.accounts(sub.sid).keys(key.sid).delete_async() is True
    with pytest.raises(TwilioRestException) as gone:
        await parent.api.v2010.accounts(sub.sid).keys(key.sid).fetch_async()
    assert (gone.value.status, gone.value.code) == (404, 20404)


async def test_iam_keys_services_senders_and_numbers(
    emulator: TwilioEmulator, http: BaseUrlAsyncHttpClient, api: Api
) -> None:
    sub_info = await api.subaccount("tenant")
    pn = await api.buy_number(sub_info["sid"], "+14155550100")
    sc = await api.lease_short_code(sub_info["sid"], "12345")
    sub = Client(sub_info["sid"], sub_info["auth_token"], http_client=http)

    policy = {"allow": ["/twilio/messaging/services/read", "/twilio/messaging/services/create"]}
    restricted = await sub.iam.v1.new_api_key.create_async(
        account_sid=sub_info["sid"], friendly_name="r", key_type="restricted", policy=policy
    )
    assert (await sub.iam.v1.api_key(restricted.sid).fetch_async()).policy == policy
    assert [k.sid for k in await sub.iam.v1.get_api_keys.list_async(account_sid=sub_info["sid"])] == [
        restricted.sid
    ]
    narrowed = {"allow": ["/twilio/messaging/services/read"]}
    assert (await sub.iam.v1.api_key(restricted.sid).update_async(policy=narrowed)).policy == narrowed

    service = await sub.messaging.v1.services.create_async(friendly_name="alerts", smart_encoding=False)
    assert service.smart_encoding is False
    as_key = Client(restricted.sid, restricted.secret, account_sid=sub_info["sid"], http_client=http)
    assert [s.sid for s in made(await as_key.messaging.v1.services.list_async())] == [service.sid]
    updated = await sub.messaging.v1.services(service.sid).update_async(
        fallback_url="https://h.example.com/fb"
    )
    assert updated.fallback_url == "https://h.example.com/fb"
    assert (await sub.messaging.v1.services(service.sid).fetch_async()).fallback_method == "POST"

    numbers = await sub.api.v2010.accounts(sub_info["sid"]).incoming_phone_numbers.list_async(
        phone_number="+14155550100"
    )
    assert [n.sid for n in numbers] == [pn]
    assert [c.short_code for c in await sub.api.v2010.accounts(sub_info["sid"]).short_codes.list_async()] == [
        "12345"
    ]

    pool = sub.messaging.v1.services(service.sid)
    await pool.phone_numbers.create_async(phone_number_sid=pn)
    await pool.short_codes.create_async(short_code_sid=sc)
    await pool.alpha_senders.create_async(alpha_sender="ACME")
    assert [n.sid for n in await pool.phone_numbers.list_async()] == [pn]
    assert (await pool.short_codes(sc).fetch_async()).short_code == "12345"
    other = await sub.messaging.v1.services.create_async(friendly_name="other")
    with pytest.raises(TwilioRestException) as taken:
        await sub.messaging.v1.services(other.sid).phone_numbers.create_async(phone_number_sid=pn)
    assert taken.value.code == 21712
    assert await pool.phone_numbers(pn).delete_async() is True
    assert await sub.messaging.v1.services(service.sid).delete_async() is True
    assert await sub.iam.v1.api_key(restricted.sid).delete_async() is True


async def test_credential_rules_and_error_types(
    emulator: TwilioEmulator, http: BaseUrlAsyncHttpClient, api: Api
) -> None:
    sub_info = await api.subaccount("tenant")
    key = await api.key(sub_info["sid"])
    parent = Client(emulator.parent_sid, emulator.parent_token, http_client=http)
    sub = Client(sub_info["sid"], sub_info["auth_token"], http_client=http)
    await sub.messaging.v1.services.create_async(friendly_name="sub's")
    assert made(await parent.messaging.v1.services.list_async()) == []
    # Parent on a subaccount's 2010 path works.
    assert await parent.api.v2010.accounts(sub_info["sid"]).keys.list_async()

    standard = Client(key["sid"], key["secret"], account_sid=sub_info["sid"], http_client=http)
    with pytest.raises(TwilioRestException) as denied:
        await standard.api.v2010.account.new_keys.create_async()
    assert (denied.value.status, denied.value.code) == (401, 20003)
    with pytest.raises(TwilioException) as list_denied:
        await standard.iam.v1.get_api_keys.list_async(account_sid=sub_info["sid"])
    assert not isinstance(list_denied.value, TwilioRestException)
    assert list_denied.value.args[1].status_code == 401

    await api.control(
        "POST", "faults", {"operation": "ListService", "kind": "status", "status": 429, "times": 1}
    )
    with pytest.raises(TwilioException) as throttled:
        await sub.messaging.v1.services.list_async()
    assert throttled.value.args[1].status_code == 429


async def test_paging_in_both_shapes(
    emulator: TwilioEmulator, http: BaseUrlAsyncHttpClient, api: Api
) -> None:
    parent = Client(emulator.parent_sid, emulator.parent_token, http_client=http)
    for index in range(5):
        await parent.api.v2010.accounts.create_async(friendly_name=f"t{index}")
        await parent.messaging.v1.services.create_async(friendly_name=f"s{index}")
    accounts = await parent.api.v2010.accounts.list_async(page_size=2)
    assert len(accounts) == 6
    services = await parent.messaging.v1.services.list_async(page_size=2)
    assert [s.friendly_name for s in made(services)] == [f"s{i}" for i in range(5)]
    gets = [r["operation"] for r in emulator.requests() if r["method"] == "GET"]
    assert gets == ["ListAccount"] * 3 + ["ListService"] * 3
    assert {r["host"] for r in emulator.requests()} == {"api.twilio.com", "messaging.twilio.com"}
