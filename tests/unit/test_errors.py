from __future__ import annotations

import pytest
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.response import Response

from twilio_operator.twilio import errors as e
from twilio_operator.twilio import shapes


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


def test_problem_details_answers_are_classified_by_their_status() -> None:
    problem = TwilioServiceException(
        type_uri="https://www.twilio.com/docs/errors/20404",
        title="Not Found",
        status=404,
        code=20404,
        detail="The requested resource was not found",
    )
    classified = e.classify(problem)
    assert isinstance(classified, e.NotFound)
    assert classified.message == "The requested resource was not found"


class _Answer:
    def __init__(self, **fields: object) -> None:
        self.__dict__.update(fields)


def test_an_answer_without_a_valid_sid_is_refused_before_it_can_be_recorded() -> None:
    for sid in (None, "None", "AC123", "SK" + "0" * 32):
        with pytest.raises(e.UnexpectedResponse, match="without a valid AC SID"):
            shapes.sid(_Answer(sid=sid), "AC", "subaccount")
    assert shapes.sid(_Answer(sid="AC" + "a" * 32), "AC", "subaccount") == "AC" + "a" * 32


def test_missing_fields_and_unknown_values_are_named() -> None:
    with pytest.raises(e.UnexpectedResponse, match="missing friendly_name"):
        shapes.required(
            _Answer(friendly_name=None, status="active"), "subaccount", ("friendly_name", "status")
        )
    with pytest.raises(e.UnexpectedResponse, match="status is 'frozen'"):
        shapes.one_of(_Answer(status="frozen"), "subaccount", "status", ("active", "closed"))
    assert isinstance(e.UnexpectedResponse("x"), e.Transient)
