"""A tiny HTTP proxy between the operator and the Twilio emulator that reshapes Twilio's answers.

The emulator answers faithfully (or with status faults); real Twilio, and what sits in front of it, sometimes
does not: fields go missing, enums grow values, a load balancer answers with an HTML page, a connection cuts
a JSON body short, newer APIs answer errors in RFC 9457 form. The operator is pointed at this proxy
(`TWILIO_API_BASE_URL`), which forwards every request unchanged and rewrites matching responses.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

Reply = tuple[int, dict[str, str], bytes]
Reshape = Callable[[Reply], Reply]

HTML_PAGE = (
    b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center>"
    b"<hr><center>nginx</center></body></html>"
)


def _json_reply(reply: Reply, change: Callable[[Any], Any]) -> Reply:
    status, headers, body = reply
    try:
        data = json.loads(body)
    except ValueError:
        return reply
    return status, {**headers, "Content-Type": "application/json"}, json.dumps(change(data)).encode()


def _each_record(data: Any, change: Callable[[dict[str, Any]], None]) -> Any:
    """Apply `change` to an instance body, or to every record of a list page."""
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list) and v and isinstance(v[0], dict)]
        if "meta" in data or "end" in data or lists:
            for records in lists:
                for record in records:
                    change(record)
        else:
            change(data)
    return data


def drop(*fields: str) -> Reshape:
    """The answer without these fields."""

    def change(record: dict[str, Any]) -> None:
        for name in fields:
            record.pop(name, None)

    return lambda reply: _json_reply(reply, lambda data: _each_record(data, change))


def set_field(name: str, value: Any) -> Reshape:
    """The answer with a field set to a value (an enum value the SDK has never seen, say)."""
    return lambda reply: _json_reply(
        reply, lambda data: _each_record(data, lambda r: r.update({name: value}))
    )


def html(status: int = 502) -> Reshape:
    """A proxy's HTML error page instead of Twilio's answer."""
    return lambda reply: (status, {"Content-Type": "text/html"}, HTML_PAGE)


def truncated(reply: Reply) -> Reply:
    """Twilio's answer cut off halfway."""
    status, headers, body = reply
    return status, headers, body[: len(body) // 2]


def rfc9457(reply: Reply) -> Reply:
    """An error answer in RFC 9457 (problem details) form, as Twilio's newer APIs give them."""
    status, _, body = reply
    if status < 400:
        return reply
    try:
        legacy = json.loads(body)
    except ValueError:
        legacy = {}
    problem = {
        "type": f"https://www.twilio.com/docs/errors/{legacy.get('code', status)}",
        "title": str(legacy.get("message") or "error"),
        "status": status,
        "code": legacy.get("code", status),
        "detail": str(legacy.get("message") or ""),
    }
    return status, {"Content-Type": "application/problem+json"}, json.dumps(problem).encode()


@dataclass
class Rule:
    method: str
    path: re.Pattern[str]
    reshape: Reshape
    times: int | None = None
    fired: int = 0


@dataclass
class ShapeProxy:
    upstream: str
    rules: list[Rule] = field(default_factory=list)
    seen: list[tuple[str, str, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                reply = proxy.forward(self.command, self.path, dict(self.headers), body)
                status, headers, data = proxy.reshape(self.command, self.path, reply)
                self.send_response(status)
                for name, value in headers.items():
                    if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = do_PUT = _relay

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        target = urlsplit(self.upstream)
        connection = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port, timeout=30)
        try:
            connection.request(method, path, body=body or None, headers=headers)
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    def reshape(self, method: str, path: str, reply: Reply) -> Reply:
        with self.lock:
            self.seen.append((method, path, reply[0]))
            for rule in self.rules:
                if rule.method == method and rule.path.search(path):
                    rule.fired += 1
                    if rule.times is not None and rule.fired >= rule.times:
                        self.rules.remove(rule)
                    return rule.reshape(reply)
        return reply

    @contextmanager
    def rule(self, method: str, path: str, reshape: Reshape, times: int | None = None) -> Iterator[Rule]:
        """Reshape matching answers while the block runs (at most `times` of them)."""
        added = Rule(method, re.compile(path), reshape, times)
        with self.lock:
            self.rules.append(added)
        try:
            yield added
        finally:
            with self.lock:
                if added in self.rules:
                    self.rules.remove(added)

    def requests_matching(self, method: str, path: str) -> int:
        pattern = re.compile(path)
        with self.lock:
            return sum(1 for m, p, _ in self.seen if m == method and pattern.search(p))
