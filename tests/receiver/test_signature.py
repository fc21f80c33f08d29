"""The signature check agrees with Twilio's own RequestValidator (twilio-python) on every shape."""

from __future__ import annotations

import hashlib

import pytest
from multidict import MultiDict
from twilio.request_validator import RequestValidator

from twilio_operator.receiver import signature
from twilio_operator.sandbox.twilio.webhooks import with_body_hash

TOKEN = "12345678901234567890123456789012"
PARAMS = [
    ("AccountSid", "AC" + "a" * 32),
    ("MessageSid", "SM" + "b" * 32),
    ("MessageStatus", "delivered"),
    ("To", "+14155550100"),
    ("Body", "héllo & more=stuff"),
    ("Empty", ""),
]


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/twilio/status",
        "https://hooks.example.com:443/twilio/status",
        "http://hooks.example.com/twilio/status?x=1&y=2",
        "https://hooks.example.com:8443/twilio/status",
    ],
)
def test_same_signature_as_twilio_python(url: str) -> None:
    official = RequestValidator(TOKEN).compute_signature(url, dict(PARAMS))
    assert signature.compute(TOKEN, url, PARAMS) == official
    assert signature.valid(TOKEN, url, PARAMS, official)


def test_default_port_either_way() -> None:
    signed = signature.compute(TOKEN, "https://hooks.example.com:443/twilio/status", PARAMS)
    assert signature.valid(TOKEN, "https://hooks.example.com/twilio/status", PARAMS, signed)
    signed = signature.compute(TOKEN, "https://hooks.example.com/twilio/status", PARAMS)
    assert signature.valid(TOKEN, "https://hooks.example.com:443/twilio/status", PARAMS, signed)
    assert not signature.valid(TOKEN, "https://hooks.example.com:8443/twilio/status", PARAMS, signed)


def test_every_parameter_counts() -> None:
    signed = signature.compute(TOKEN, "https://h.example.com/s", PARAMS)
    assert not signature.valid(TOKEN, "https://h.example.com/s", [*PARAMS, ("New", "x")], signed)
    changed = [(k, "failed" if k == "MessageStatus" else v) for k, v in PARAMS]
    assert not signature.valid(TOKEN, "https://h.example.com/s", changed, signed)
    assert not signature.valid("0" * 32, "https://h.example.com/s", PARAMS, signed)


def test_repeated_parameters_sorted_like_twilio() -> None:
    params = [("Tag", "b"), ("Tag", "a"), ("AccountSid", "AC1")]
    official = RequestValidator(TOKEN).compute_signature("https://h.example.com/s", MultiDict(params))
    assert signature.compute(TOKEN, "https://h.example.com/s", params) == official


def test_json_body_hash() -> None:
    body = b'[{"id":"EZ1"}]'
    url = with_body_hash("https://h.example.com/twilio/events", body)
    assert url.endswith("bodySHA256=" + hashlib.sha256(body).hexdigest())
    signed = signature.compute(TOKEN, url)
    assert RequestValidator(TOKEN).validate(url, body.decode(), signed)
    assert signature.valid_json(TOKEN, url, body, signed)
    assert not signature.valid_json(TOKEN, url, body + b" ", signed)
    assert not signature.valid_json(TOKEN, "https://h.example.com/twilio/events", body, signed)
