"""A small async Kubernetes API client for what kopf doesn't do for us: annotations written at once
(leak-proof create), Secrets, and reads of referenced objects.

It uses the same credentials kopf logged in with, so there is one source of cluster access.
"""

from __future__ import annotations

import contextlib
import json
import ssl
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


def _ssl_context(info: kopf.ConnectionInfo) -> ssl.SSLContext | bool:
    if not info.server.startswith("https"):
        return False
    if info.insecure:
        return False
    context = ssl.create_default_context()
    if info.ca_path:
        context.load_verify_locations(cafile=str(info.ca_path))
    elif info.ca_data:
        data = info.ca_data.decode() if isinstance(info.ca_data, bytes) else info.ca_data
        context.load_verify_locations(cadata=data)
    if info.certificate_path and info.private_key_path:
        context.load_cert_chain(str(info.certificate_path), str(info.private_key_path))
    return context


class KubeClient:
    """JSON over HTTP to the API server. Must be created inside the running loop."""

    def __init__(self, info: kopf.ConnectionInfo) -> None:
        self.server = info.server.rstrip("/")
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

    async def close(self) -> None:
        await self._session.close()

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str = "application/json",
        params: dict[str, str] | None = None,
    ) -> Any:
        data = json.dumps(body) if body is not None else None
        headers = {"Content-Type": content_type} if data is not None else {}
        try:
            async with self._session.request(
                method, self.server + path, data=data, headers=headers, params=params
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
        cls = {404: NotFoundError, 409: ConflictError}.get(status_code, KubeError)
        raise cls(status_code, str(body.get("reason", "")), str(body.get("message", text[:200])))

    async def get(self, path: str) -> dict[str, Any] | None:
        try:
            result: dict[str, Any] = await self.request("GET", path)
        except NotFoundError:
            return None
        return result

    async def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("POST", path, body)
        return result

    async def merge_patch(self, path: str, patch: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("PATCH", path, patch, "application/merge-patch+json")
        return result

    async def delete(self, path: str, body: dict[str, Any] | None = None) -> None:
        with contextlib.suppress(NotFoundError):
            await self.request("DELETE", path, body)


def resource_path(api_version: str, plural: str, namespace: str, name: str | None = None) -> str:
    base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    path = f"{base}/namespaces/{namespace}/{plural}"
    return f"{path}/{name}" if name else path
