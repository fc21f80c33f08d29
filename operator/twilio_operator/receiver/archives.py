"""Message archives (BulkExports): a day's messages, read from Twilio's file into the store.

With Messages exports enabled on an account, Twilio writes each day's messages, once the day is over, to a
gzipped file of JSON lines, and posts the export's webhook (``POST /twilio/archives`` records it). Reading
that file gives every message of the day its final status, as the catch-up does from the Messages list,
even when every callback was lost and the list has long moved on. ``GET bulkexports.twilio.com/v1/Exports/
Messages/Days/{Day}`` (with the account's own SID and auth token: v1 acts as whoever authenticated) answers
307 with the file's presigned URL in ``redirect_to``; that URL takes no credentials, so none are sent to it.
The file is read as it streams, a few hundred lines per commit, so a busy day never sits in memory whole.
"""

from __future__ import annotations

import contextlib
import json
import time
import urllib.parse
import zlib
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

import aiohttp

from .committer import Committer
from .repair import commit_forward
from .store.base import Store
from .store.model import ArchiveDay

BULKEXPORTS = "https://bulkexports.twilio.com"
MESSAGES = "Messages"
REDIRECTS = frozenset({301, 302, 303, 307, 308})
LINES_PER_COMMIT = 500
CHUNK = 64 * 1024


class ArchiveError(Exception):
    """One account's archive could not be read; the message says why, for a person to act on."""


@dataclass(frozen=True)
class Fetched:
    messages: int  # messages in the archive
    moved: int  # of which the store lacked or had behind, now stored or moved forward
    size: int  # bytes of the file


def twilio_request(url: str, api_base_url: str | None) -> tuple[str, dict[str, str]]:
    """Where to send a request for a Twilio URL: the URL itself, or, with an API base (an emulator, a
    recording proxy), the same path and query there, with the original host in ``Host``."""
    if not api_base_url:
        return url, {}
    parts = urllib.parse.urlsplit(url)
    path = urllib.parse.urlunsplit(("", "", parts.path, parts.query, ""))
    return api_base_url.rstrip("/") + path, {"Host": parts.netloc}


class ArchiveReader:
    def __init__(
        self,
        store: Store,
        committer: Committer,
        session: aiohttp.ClientSession,
        api_base_url: str | None,
        timeout: float,
    ) -> None:
        self.store = store
        self.committer = committer
        self.session = session
        self.api_base_url = api_base_url
        self.timeout = timeout

    async def fetch(self, account_sid: str, token: str, day: str) -> Fetched:
        """Commit the day's messages of the account and record the day as fetched; raises ArchiveError
        (nothing recorded as fetched) or StoreUnavailable."""
        location = await self._locate(account_sid, token, day)
        messages = moved = 0
        reading = GzipJsonLines()
        # Closed at once should a commit fail, so the download does not linger.
        async with contextlib.aclosing(self._batches(location, reading)) as batches:
            async for batch in batches:
                events, _ = await commit_forward(self.store, self.committer, account_sid, batch, "archive")
                messages += len(batch)
                moved += len(events)
        fetched = Fetched(messages, moved, reading.size)
        await self.store.archive_fetched(
            ArchiveDay(account_sid, MESSAGES, day, reading.size, None, time.time(), messages)
        )
        return fetched

    async def _locate(self, account_sid: str, token: str, day: str) -> str:
        """The URL of the day's file, from the 307 Twilio answers."""
        url, headers = twilio_request(f"{BULKEXPORTS}/v1/Exports/{MESSAGES}/Days/{day}", self.api_base_url)
        try:
            async with self.session.get(
                url,
                headers=headers,
                auth=aiohttp.BasicAuth(account_sid, token),
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as response:
                status = response.status
                text = await response.text()
                location = response.headers.get("Location")
        except (aiohttp.ClientError, TimeoutError) as error:
            raise ArchiveError(f"BulkExports did not answer ({type(error).__name__})") from error
        if status == 404:
            raise ArchiveError(
                f"the {day} archive is not ready (BulkExports answered 404): a day is ready some hours "
                "after it ends, on an account whose Messages exports are enabled"
            )
        if status in (401, 403):
            raise ArchiveError(f"BulkExports refused the account's credentials ({status})")
        if status not in REDIRECTS:
            raise ArchiveError(f"BulkExports answered {status} for the {day} archive")
        target = _redirect_to(text) or location
        if not target or urllib.parse.urlsplit(target).scheme not in ("https", "http"):
            raise ArchiveError("BulkExports answered without the archive file's URL")
        return target

    async def _batches(
        self, location: str, reading: GzipJsonLines
    ) -> AsyncGenerator[list[dict[str, Any]], None]:
        """The file's messages, ``LINES_PER_COMMIT`` at a time, as the download streams."""
        url, headers = twilio_request(location, self.api_base_url)
        # No total: a large file takes what it takes; a stalled one fails after the timeout.
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.timeout, sock_read=self.timeout)
        try:
            async with self.session.get(
                url, headers=headers, allow_redirects=False, timeout=timeout
            ) as response:
                if response.status != 200:
                    raise ArchiveError(
                        f"the archive file could not be read (storage answered {response.status})"
                    )
                # Stored with Content-Encoding: gzip, the file arrives already inflated by aiohttp.
                reading.compressed = "gzip" not in response.headers.get("Content-Encoding", "").lower()
                async for chunk in response.content.iter_chunked(CHUNK):
                    reading.feed(chunk)
                    while len(reading.records) >= LINES_PER_COMMIT:
                        yield reading.take(LINES_PER_COMMIT)
        except (aiohttp.ClientError, TimeoutError) as error:
            raise ArchiveError(f"the archive file download failed ({type(error).__name__})") from error
        reading.finish()
        while reading.records:
            yield reading.take(LINES_PER_COMMIT)


class GzipJsonLines:
    """Gzipped JSON lines, fed in chunks: the records of the complete lines so far. A file may hold several
    gzip members one after the other (as concatenated uploads do). With ``compressed`` false, the lines
    come already inflated."""

    def __init__(self) -> None:
        self.size = 0
        self.compressed = True
        self.records: list[dict[str, Any]] = []
        self._inflate = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
        self._partial = b""

    def feed(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if not self.compressed:
            self._lines(chunk)
            return
        data = b""
        while chunk:
            try:
                data += self._inflate.decompress(chunk)
            except zlib.error as error:
                raise ArchiveError("the archive file is not gzip") from error
            chunk = self._inflate.unused_data if self._inflate.eof else b""
            if chunk:
                self._inflate = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
        self._lines(data)

    def _lines(self, data: bytes) -> None:
        *lines, self._partial = (self._partial + data).split(b"\n")
        self.records.extend(_record(line) for line in lines if line.strip())

    def finish(self) -> None:
        if self.compressed and self.size and not self._inflate.eof:
            raise ArchiveError("the archive file ends early")
        if self._partial.strip():
            self.records.append(_record(self._partial))
        self._partial = b""

    def take(self, count: int) -> list[dict[str, Any]]:
        taken, self.records = self.records[:count], self.records[count:]
        return taken


def _record(line: bytes) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except ValueError as error:
        raise ArchiveError("a line of the archive file is not JSON") from error
    if not isinstance(record, dict):
        raise ArchiveError("a line of the archive file is not a JSON object")
    return record


def _redirect_to(text: str) -> str | None:
    try:
        body = json.loads(text)
    except ValueError:
        return None
    target = body.get("redirect_to") if isinstance(body, dict) else None
    return target if isinstance(target, str) else None
