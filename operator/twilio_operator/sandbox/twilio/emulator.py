"""``TwilioEmulator``: start and stop the emulated Twilio API on a local port."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .control import Control
from .server import EmulatorCore
from .state import TwilioState


class TwilioEmulator:
    """A stateful Twilio API (api, messaging and iam hosts on one port) with a parent account at start.

    The parent's SID and Auth Token follow from ``seed``, as do all SIDs and secrets for the same sequence
    of calls. ``latency`` is added to every API call; ``concurrency_limit`` caps concurrent requests per
    account like Twilio's 429/20429.
    """

    def __init__(self, *, latency: float = 0.0, concurrency_limit: int | None = None, seed: int = 0) -> None:
        self.core = EmulatorCore(latency=latency, concurrency_limit=concurrency_limit, seed=seed)
        self._runner: web.AppRunner | None = None
        self._url: str | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on ``host:port`` (0 picks a free port); return the base URL, e.g. http://127.0.0.1:PORT."""
        if self._runner is not None:
            raise RuntimeError("the Twilio emulator is already running")
        self.core.rearm()
        app = web.Application(client_max_size=1024**2)
        app.add_routes(Control(self.core, self.info).routes())
        app.router.add_route("*", "/{tail:.*}", self.core.handle)
        # The handler keeps running when a client disconnects: real Twilio finishes a request whose client
        # timed out, and that is exactly the case leak-proof creates must survive.
        runner = web.AppRunner(app, access_log=None, handler_cancellation=False, shutdown_timeout=5.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        self._runner = runner
        self._url = f"http://{bound_host}:{bound_port}"
        return self._url

    async def stop(self) -> None:
        """Stop serving; requests held by hang faults are released first so shutdown is immediate."""
        self.core.release_hung()
        await self.core.callbacks.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("the Twilio emulator has not been started")
        return self._url

    @property
    def parent_sid(self) -> str:
        return self.core.state.parent.sid

    @property
    def parent_token(self) -> str:
        return self.core.state.parent.auth_token

    @property
    def state(self) -> TwilioState:
        """The live state, for in-process tests."""
        return self.core.state

    def info(self) -> dict[str, Any]:
        return {"url": self._url, "parent_sid": self.parent_sid, "parent_token": self.parent_token}

    def requests(self, since: int = 0) -> list[dict[str, Any]]:
        """Requests served after sequence number ``since`` (what ``GET /__sandbox/requests`` returns)."""
        return self.core.log.since(since)

    def violations(self) -> list[dict[str, Any]]:
        return list(self.core.violations)
