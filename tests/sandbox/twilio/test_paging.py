"""The two paging shapes: 2010 relative URIs with nothing else at the top level, v1 absolute meta URLs."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from .conftest import Api

PAGE_2010_KEYS = {
    "first_page_uri",
    "next_page_uri",
    "previous_page_uri",
    "uri",
    "page",
    "page_size",
    "start",
    "end",
}


async def test_2010_pages_follow_next_page_uri(api: Api) -> None:
    sub = await api.subaccount()
    created = [(await api.key(sub["sid"], name=f"k{i}"))["sid"] for i in range(5)]
    path = f"/2010-04-01/Accounts/{sub['sid']}/Keys.json"
    seen: list[str] = []
    pages = []
    answer = await api.call("GET", "api", path, api.parent, params={"PageSize": "2"})
    while True:
        assert answer.status == 200
        assert set(answer.body) == PAGE_2010_KEYS | {"keys"}
        pages.append(answer.body)
        seen.extend(k["sid"] for k in answer.body["keys"])
        next_uri = answer.body["next_page_uri"]
        if next_uri is None:
            break
        assert next_uri.startswith(path + "?")
        answer = await api.call("GET", "api", next_uri, api.parent)
    assert seen == created
    assert [p["page"] for p in pages] == [0, 1, 2]
    assert [(p["start"], p["end"]) for p in pages] == [(0, 1), (2, 3), (4, 4)]
    assert pages[0]["previous_page_uri"] is None
    assert pages[0]["first_page_uri"] == f"{path}?PageSize=2&Page=0"
    back = await api.call("GET", "api", pages[2]["previous_page_uri"], api.parent)
    assert [k["sid"] for k in back.body["keys"]] == created[2:4]


async def test_page_token_survives_deletion_of_its_record(api: Api) -> None:
    sub = await api.subaccount()
    created = [(await api.key(sub["sid"]))["sid"] for _ in range(4)]
    path = f"/2010-04-01/Accounts/{sub['sid']}/Keys.json"
    first = await api.call("GET", "api", path, api.parent, params={"PageSize": "2"})
    await api.call("DELETE", "api", f"/2010-04-01/Accounts/{sub['sid']}/Keys/{created[1]}.json", api.parent)
    second = await api.call("GET", "api", first.body["next_page_uri"], api.parent)
    assert [k["sid"] for k in second.body["keys"]] == created[2:]


async def test_page_size_above_1000_is_20007(api: Api) -> None:
    answer = await api.call(
        "GET", "api", "/2010-04-01/Accounts.json", api.parent, params={"PageSize": "1001"}
    )
    assert (answer.status, answer.code) == (400, 20007)
    v1 = await api.call("GET", "messaging", "/v1/Services", api.parent, params={"PageSize": "5000"})
    assert (v1.status, v1.code) == (400, 20007)
    zero = await api.call("GET", "api", "/2010-04-01/Accounts.json", api.parent, params={"PageSize": "0"})
    assert (zero.status, zero.code) == (400, 20001)
    ok = await api.call("GET", "api", "/2010-04-01/Accounts.json", api.parent, params={"PageSize": "1000"})
    assert ok.status == 200


async def test_bad_page_token_is_21481(api: Api) -> None:
    for token in ("garbage", "PA" + "SK" + "0" * 32):
        answer = await api.call(
            "GET", "api", "/2010-04-01/Accounts.json", api.parent, params={"PageToken": token}
        )
        assert (answer.status, answer.code) == (400, 21481)
        v1 = await api.call("GET", "messaging", "/v1/Services", api.parent, params={"PageToken": token})
        assert (v1.status, v1.code) == (400, 21481)


async def test_v1_pages_carry_absolute_urls_in_meta(api: Api) -> None:
    sub = await api.sub_creds()
    created = [(await api.service(sub, f"s{i}"))["sid"] for i in range(5)]
    seen: list[str] = []
    answer = await api.call("GET", "messaging", "/v1/Services", sub, params={"PageSize": "2"})
    while True:
        assert set(answer.body) == {"services", "meta"}
        meta = answer.body["meta"]
        assert meta["key"] == "services"
        assert meta["url"].startswith("https://messaging.twilio.com/v1/Services?")
        assert meta["first_page_url"] == "https://messaging.twilio.com/v1/Services?PageSize=2&Page=0"
        seen.extend(s["sid"] for s in answer.body["services"])
        if meta["next_page_url"] is None:
            break
        parts = urlsplit(meta["next_page_url"])
        assert (parts.scheme, parts.netloc, parts.path) == ("https", "messaging.twilio.com", "/v1/Services")
        # Follow it as a host-rewriting client does: same path and query, Host header = the URL's host.
        answer = await api.call("GET", parts.netloc, f"{parts.path}?{parts.query}", sub)
    assert seen[1:] == created  # after the account's default service
    assert meta["page"] == 2
    assert meta["previous_page_url"] is not None


async def test_iam_page_urls_keep_the_account_sid(api: Api) -> None:
    sub = await api.sub_creds()
    for _ in range(3):
        await api.call("POST", "iam", "/v1/Keys", sub, data={"AccountSid": sub.username})
    answer = await api.call(
        "GET", "iam", "/v1/Keys", sub, params={"AccountSid": sub.username, "PageSize": "2"}
    )
    next_url = answer.body["meta"]["next_page_url"]
    assert next_url.startswith("https://iam.twilio.com/v1/Keys?")
    assert parse_qs(urlsplit(next_url).query)["AccountSid"] == [sub.username]


async def test_path_prefix_mode_points_page_urls_back_at_the_emulator(api: Api) -> None:
    sub = await api.sub_creds()
    for i in range(3):
        await api.service(sub, f"s{i}")
    # No Twilio Host header: the product is named by the first path segment instead.
    answer = await api.call(
        "GET", api.emulator.url.split("//")[1], "/messaging/v1/Services", sub, params={"PageSize": "2"}
    )
    assert answer.status == 200
    next_url = answer.body["meta"]["next_page_url"]
    assert next_url.startswith(f"{api.emulator.url}/messaging/v1/Services?")
    async with api.session.get(next_url, headers={"Authorization": sub.header()}) as response:
        body = await response.json()
    assert len(body["services"]) == 2  # two of three: the default service came first
