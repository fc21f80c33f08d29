"""The signature of Twilio's webhooks (``callbacks.py`` posts them).

Twilio signs with the Auth Token of the account that owns the message, i.e. the subaccount's
(twilio-api.md §5): ``base64(HMAC-SHA1(auth_token, url + name1 + value1 + name2 + value2 …))`` with the
parameters sorted by name, sent as ``X-Twilio-Signature``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.parse
from collections.abc import Mapping

CALLBACK_TIMEOUT = 10.0


def signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    payload = url + "".join(f"{name}{params[name]}" for name in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def with_body_hash(url: str, body: bytes) -> str:
    """The URL Twilio calls with a JSON body: the body's SHA-256 in the ``bodySHA256`` query parameter, which
    the signature then covers (the body itself is not a parameter)."""
    digest = hashlib.sha256(body).hexdigest()
    return f"{url}{'&' if urllib.parse.urlsplit(url).query else '?'}bodySHA256={digest}"
