"""Twilio's request signature (`X-Twilio-Signature`), checked as twilio-python's RequestValidator does.

The signature is ``base64(HMAC-SHA1(auth_token, url + name1 + value1 + ...))`` over the full URL Twilio
called and every posted parameter, names sorted, each name's values sorted. Every parameter counts: Twilio
adds fields without notice, so a whitelist would reject genuine callbacks. JSON bodies (Event Streams) are
signed over the URL alone, and the URL's ``bodySHA256`` query parameter carries the body's SHA-256.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.parse
from collections.abc import Iterable, Sequence

DEFAULT_PORTS = {"https": 443, "http": 80}


def compute(auth_token: str, url: str, params: Iterable[tuple[str, str]] = ()) -> str:
    values: dict[str, set[str]] = {}
    for name, value in params:
        values.setdefault(name, set()).add(value)
    payload = url + "".join(name + value for name in sorted(values) for value in sorted(values[name]))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def url_variants(url: str) -> list[str]:
    """The URL as given, and with its default port added or removed: Twilio's own validator tries both,
    "since sig generation on back end is inconsistent"."""
    parts = urllib.parse.urlsplit(url)
    default = DEFAULT_PORTS.get(parts.scheme)
    if default is None or parts.hostname is None:
        return [url]
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    userinfo = parts.netloc.rpartition("@")[0]
    prefix = f"{userinfo}@" if userinfo else ""
    try:
        port = parts.port
    except ValueError:
        return [url]
    if port is None:
        other = parts._replace(netloc=f"{prefix}{host}:{default}")
    elif port == default:
        other = parts._replace(netloc=f"{prefix}{host}")
    else:
        return [url]
    return [url, urllib.parse.urlunsplit(other)]


def valid(auth_token: str, url: str, params: Sequence[tuple[str, str]], signature: str) -> bool:
    """Whether ``signature`` signs this form request (constant-time comparison)."""
    expected = signature.strip().encode()
    return any(
        hmac.compare_digest(compute(auth_token, candidate, params).encode(), expected)
        for candidate in url_variants(url)
    )


def body_hash_matches(url: str, body: bytes) -> bool:
    """Whether the URL's ``bodySHA256`` is the SHA-256 of the raw body (JSON requests)."""
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    claimed = query.get("bodySHA256")
    if not claimed or len(claimed) != 1:
        return False
    return hmac.compare_digest(claimed[0].lower().encode(), hashlib.sha256(body).hexdigest().encode())


def valid_json(auth_token: str, url: str, body: bytes, signature: str) -> bool:
    """A JSON request: the body matches ``bodySHA256`` and the URL (with that query) is signed."""
    return body_hash_matches(url, body) and valid(auth_token, url, (), signature)
