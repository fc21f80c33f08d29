"""A small async Kubernetes API client for what kopf doesn't do for us: annotations written at once
(leak-proof create), Secrets, and reads of referenced objects.

It uses the credentials kopf logged in with, and follows them: kopf logs in again whenever the API server
refuses them (and hands the new ones to the login handler, which gives them to `Credentials`), and this client
does the same on a 401 of its own, so bound service-account tokens that expire and are renewed on disk keep
working for both.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import ssl
import tempfile
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import kopf


class KubeError(Exception):
    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason


class NotFoundError(KubeError):
    pass


class ConflictError(KubeError):
    pass


class UnauthorizedError(KubeError):
    pass


def _pem(data: str | bytes) -> str:
    """PEM text from a kubeconfig's `*-data` field: kopf passes it on as the kubeconfig has it, base64 of
    the PEM (as kubectl writes it), or PEM itself."""
    text = data.decode("ascii") if isinstance(data, bytes) else data
    return text if text.startswith("-----BEGIN ") else base64.b64decode(text).decode("ascii")


def _ssl_context(info: kopf.ConnectionInfo) -> ssl.SSLContext | bool:
    if not info.server.startswith("https"):
        return False
    if info.insecure:
        return False
    context = ssl.create_default_context()
    if info.ca_path:
        context.load_verify_locations(cafile=str(info.ca_path))
    elif info.ca_data:
        context.load_verify_locations(cadata=_pem(info.ca_data))
    if info.certificate_path and info.private_key_path:
        context.load_cert_chain(str(info.certificate_path), str(info.private_key_path))
    elif info.certificate_data and info.private_key_data:
        # ssl loads a client certificate from files only; these live as long as loading takes.
        with tempfile.TemporaryDirectory() as directory:
            cert, key = Path(directory) / "client.crt", Path(directory) / "client.key"
            cert.write_text(_pem(info.certificate_data))
            key.write_text(_pem(info.private_key_data))
            context.load_cert_chain(str(cert), str(key))
    return context


class Credentials:
    """The cluster credentials in use, and how to get fresh ones (the same way kopf's login handler does)."""

    def __init__(self) -> None:
        self.info: kopf.ConnectionInfo | None = None
        self._login: Callable[[], kopf.ConnectionInfo | None] = lambda: None
        self._ready = asyncio.Event()

    def update(self, info: kopf.ConnectionInfo, login: Callable[[], kopf.ConnectionInfo | None]) -> None:
        """kopf logged in with `info`; `login` logs in again the same way."""
        self.info = info
        self._login = login
        self._ready.set()

    def refresh(self, refused: kopf.ConnectionInfo) -> kopf.ConnectionInfo:
        """Log in again (a service account's token file is re-read) after the API server refused `refused`;
        requests refused together log in once."""
        if self.info is not refused and self.info is not None:
            return self.info
        info = self._login()
        if info is None:
            raise KubeError(401, "Unauthorized", "no Kubernetes credentials to log in with again")
        self.info = info
        return info

    async def current(self) -> kopf.ConnectionInfo:
        """The credentials, once kopf has logged in (it does before any watch event reaches a handler)."""
        await self._ready.wait()
        assert self.info is not None
        return self.info


class KubeClient:
    """JSON over HTTP to the API server. Must be created inside the running loop."""

    def __init__(self, credentials: Credentials) -> None:
        self.credentials = credentials
        self._session: aiohttp.ClientSession | None = None
        self._session_for: kopf.ConnectionInfo | None = None
        # Sessions of earlier credentials: requests may still be using them; closed with the client.
        self._retired: list[aiohttp.ClientSession] = []
        self._server = ""
        # The resourceVersion each object had after this client's last write to it, by path: a watch event
        # of that version is this process's own write.
        self.written: dict[str, str] = {}

    def wrote(self, path: str, obj: Mapping[str, Any]) -> bool:
        """Whether `obj` (from a watch event) is the version of it this client's last write produced."""
        version = (obj.get("metadata") or {}).get("resourceVersion")
        return version is not None and self.written.get(path) == version

    async def close(self) -> None:
        for session in [*self._retired, self._session]:
            if session is not None:
                await session.close()

    async def _open(self) -> tuple[aiohttp.ClientSession, kopf.ConnectionInfo]:
        """A session for the current credentials (a new one when they changed)."""
        info = await self.credentials.current()
        if self._session is None or self._session_for is not info:
            if self._session is not None:
                self._retired.append(self._session)
            headers = {"Accept": "application/json", "User-Agent": "twilio-operator"}
            if info.token:
                headers["Authorization"] = f"{info.scheme or 'Bearer'} {info.token}"
            auth = aiohttp.BasicAuth(info.username, info.password or "") if info.username else None
            self._session = aiohttp.ClientSession(
                headers=headers,
                auth=auth,
                connector=aiohttp.TCPConnector(ssl=_ssl_context(info), limit=50),
                timeout=aiohttp.ClientTimeout(total=30),
            )
            self._session_for = info
            self._server = info.server.rstrip("/")
        return self._session, info

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str = "application/json",
        params: dict[str, str] | None = None,
    ) -> Any:
        session, info = await self._open()
        try:
            return await self._request(session, method, path, body, content_type, params)
        except UnauthorizedError:
            # Credentials expire (bound service-account tokens do, hourly): log in again, once.
            self.credentials.refresh(info)
            session, info = await self._open()
            return await self._request(session, method, path, body, content_type, params)

    async def _request(
        self,
        session: aiohttp.ClientSession,
        method: str,
        path: str,
        body: Any,
        content_type: str,
        params: dict[str, str] | None,
    ) -> Any:
        data = json.dumps(body) if body is not None else None
        headers = {"Content-Type": content_type} if data is not None else {}
        try:
            async with session.request(
                method, self._server + path, data=data, headers=headers, params=params
            ) as response:
                text = await response.text()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as error:
            raise KubeError(0, "Unavailable", f"{method} {path}: {type(error).__name__}") from error
        return self._answer(status, text)

    @staticmethod
    def _answer(status_code: int, text: str) -> Any:
        if status_code < 400:
            return json.loads(text) if text else None
        try:
            body = json.loads(text)
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        cls = {401: UnauthorizedError, 404: NotFoundError, 409: ConflictError}.get(status_code, KubeError)
        raise cls(status_code, str(body.get("reason", "")), str(body.get("message", text[:200])))

    async def watch(self, path: str, params: dict[str, str]) -> AsyncIterator[dict[str, Any]]:
        """The events of one watch request, until the server ends it (the caller lists and watches again)."""
        session, info = await self._open()
        query = {**params, "watch": "true"}
        timeout = aiohttp.ClientTimeout(total=None, sock_read=float(params.get("timeoutSeconds", 300)) + 30)
        try:
            async with session.get(self._server + path, params=query, timeout=timeout) as response:
                if response.status >= 400:
                    if response.status == 401:
                        self.credentials.refresh(info)
                    self._answer(response.status, await response.text())
                async for line in response.content:
                    if line.strip():
                        yield json.loads(line)
        except (aiohttp.ClientError, TimeoutError) as error:
            raise KubeError(0, "Unavailable", f"watch {path}: {type(error).__name__}") from error

    async def get(self, path: str) -> dict[str, Any] | None:
        try:
            result: dict[str, Any] = await self.request("GET", path)
        except NotFoundError:
            return None
        return result

    async def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("POST", path, body)
        name = (result.get("metadata") or {}).get("name")
        self._note(f"{path}/{name}", result)
        return result

    async def merge_patch(self, path: str, patch: dict[str, Any], subresource: str = "") -> dict[str, Any]:
        """A JSON merge patch of the object at `path` (or of its `subresource`, e.g. "/status", which
        answers with the whole object too)."""
        result: dict[str, Any] = await self.request(
            "PATCH", path + subresource, patch, "application/merge-patch+json"
        )
        self._note(path, result)
        return result

    def _note(self, path: str, written: dict[str, Any] | None) -> None:
        version = ((written or {}).get("metadata") or {}).get("resourceVersion")
        if version:
            self.written[path] = str(version)

    async def delete(self, path: str, body: dict[str, Any] | None = None) -> None:
        with contextlib.suppress(NotFoundError):
            await self.request("DELETE", path, body)


def resource_path(api_version: str, plural: str, namespace: str | None, name: str | None = None) -> str:
    base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    path = f"{base}/namespaces/{namespace}/{plural}" if namespace else f"{base}/{plural}"
    return f"{path}/{name}" if name else path
