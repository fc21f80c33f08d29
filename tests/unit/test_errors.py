from __future__ import annotations

import pytest
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.response import Response

from twilio_operator.twilio import errors as e


def rest(status: int, code: int | None) -> TwilioRestException:
    return TwilioRestException(status, "/uri", msg="Unable to fetch record: x", code=code)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (rest(404, 20404), e.NotFound),
        (rest(429, 20429), e.RateLimited),
        (rest(500, None), e.Transient),
        (rest(503, None), e.Transient),
        (rest(401, 20003), e.AuthError),
        (rest(400, 21479), e.Terminal),
        (rest(400, 21712), e.Terminal),
        (TimeoutError(), e.Transient),
        (ValueError("Expecting value"), e.Transient),
    ],
)
def test_fetch_and_create_errors(error: BaseException, expected: type[e.TwilioError]) -> None:
    assert type(e.classify(error)) is expected


def test_list_pages_raise_a_plain_twilio_exception_which_is_classified_too() -> None:
    body = '{"code": 20429, "message": "Too Many Requests", "status": 429}'
    error = TwilioException("Unable to fetch page", Response(429, body, {"Retry-After": "3"}))
    classified = e.classify(error)
    assert isinstance(classified, e.RateLimited)
    assert classified.code == 20429 and classified.retry_after == 3.0


def test_html_error_pages_degrade_to_a_short_message() -> None:
    error = TwilioException("Unable to fetch page", Response(502, "<html><body>Bad gateway</body></html>"))
    classified = e.classify(error)
    assert isinstance(classified, e.Transient)
    assert "non-JSON" in classified.message


def test_unknown_exceptions_are_not_swallowed() -> None:
    with pytest.raises(ZeroDivisionError):
        e.classify(ZeroDivisionError())
