"""Request latency of the emulators early on and after many requests: it should stay flat.

Starts the Twilio emulator (and the Kubernetes emulator, when ``twilio_operator.sandbox.kube`` is present)
in this process and drives each with a fixed mix of reads and writes whose per-request cost should not
depend on how many requests came before. Objects accumulate as the run goes on, so a request that scanned
the request log or the stored history would slow down. Prints mean and p95 latency of the first
``--window`` requests and of ``--window`` requests after ``--requests`` requests. A benchmark, not a test: it
prints figures and never fails on a timing.

    .venv/bin/python bench/emulator_latency.py [--requests 10000] [--window 500]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from twilio_operator.sandbox.twilio import TwilioEmulator

Step = Callable[[], Awaitable[None]]


@dataclass
class Figures:
    emulator: str
    window: str
    latencies: list[float]

    def row(self) -> str:
        ms = [value * 1000 for value in self.latencies]
        p95 = statistics.quantiles(ms, n=20)[-1]
        return f"{self.emulator:<8} {self.window:<22} {len(ms):>8} {statistics.fmean(ms):>9.2f} {p95:>9.2f}"


async def _timed(step: Step) -> float:
    started = time.perf_counter()
    await step()
    return time.perf_counter() - started


async def measure(emulator: str, steps: Callable[[int], Step], total: int, window: int) -> list[Figures]:
    first = [await _timed(steps(index)) for index in range(window)]
    for index in range(window, total):
        await steps(index)()
    later = [await _timed(steps(index)) for index in range(total, total + window)]
    return [
        Figures(emulator, f"first {window}", first),
        Figures(emulator, f"after {total:,}", later),
    ]


async def _check(response: aiohttp.ClientResponse, expected: int) -> None:
    if response.status != expected:
        raise RuntimeError(f"{response.method} {response.url}: {response.status} {await response.text()}")
    await response.read()


async def twilio_steps(session: aiohttp.ClientSession, emulator: TwilioEmulator) -> Callable[[int], Step]:
    """Eight calls a cycle: create, fetch, update services; read the subaccount, its keys and numbers."""
    state = emulator.state
    state.subaccount_limit = 10**6
    sub = state.create_subaccount(state.parent, "bench tenant")
    for index in range(20):
        state.create_key(sub.sid, f"k{index}")
        state.buy_number(sub.sid, f"+1415555{index:04d}")
    auth = {"Authorization": "Basic " + base64.b64encode(f"{sub.sid}:{sub.auth_token}".encode()).decode()}
    parent_auth = {
        "Authorization": "Basic "
        + base64.b64encode(f"{emulator.parent_sid}:{emulator.parent_token}".encode()).decode()
    }
    api = {**parent_auth, "Host": "api.twilio.com"}
    messaging = {**auth, "Host": "messaging.twilio.com"}
    services: list[str] = []
    created_keys: list[str] = []
    rng = random.Random(1)
    base = emulator.url

    async def create_service() -> None:
        async with session.post(f"{base}/v1/Services", data={"FriendlyName": "s"}, headers=messaging) as r:
            await _check(r, 201)
            services.append((await r.json())["sid"])

    async def fetch_service() -> None:
        async with session.get(f"{base}/v1/Services/{rng.choice(services)}", headers=messaging) as r:
            await _check(r, 200)

    async def update_service() -> None:
        data = {"StatusCallback": f"https://hooks.example.com/{rng.random()}", "StickySender": "false"}
        async with session.post(
            f"{base}/v1/Services/{rng.choice(services)}", data=data, headers=messaging
        ) as r:
            await _check(r, 200)

    async def fetch_account() -> None:
        async with session.get(f"{base}/2010-04-01/Accounts/{sub.sid}.json", headers=api) as r:
            await _check(r, 200)

    async def list_keys() -> None:
        url = f"{base}/2010-04-01/Accounts/{sub.sid}/Keys.json?PageSize=50"
        async with session.get(url, headers=api) as r:
            await _check(r, 200)

    async def find_number() -> None:
        url = f"{base}/2010-04-01/Accounts/{sub.sid}/IncomingPhoneNumbers.json"
        params = {"PhoneNumber": f"+1415555{rng.randrange(20):04d}"}
        async with session.get(url, params=params, headers=api) as r:
            await _check(r, 200)

    async def create_key() -> None:
        url = f"{base}/2010-04-01/Accounts/{sub.sid}/Keys.json"
        async with session.post(url, data={"FriendlyName": "tmp"}, headers=api) as r:
            await _check(r, 201)
            created_keys.append((await r.json())["sid"])

    async def delete_key() -> None:
        url = f"{base}/2010-04-01/Accounts/{sub.sid}/Keys/{created_keys.pop()}.json"
        async with session.delete(url, headers=api) as r:
            await _check(r, 204)

    cycle: list[Step] = [
        create_service,
        fetch_service,
        update_service,
        fetch_account,
        list_keys,
        find_number,
        create_key,
        delete_key,
    ]
    return lambda index: cycle[index % len(cycle)]


async def kube_steps(session: aiohttp.ClientSession, url: str) -> Callable[[int], Step]:
    """A cycle of four calls on ConfigMaps: create, get, merge-patch, and read the namespace."""
    names = itertools.count()
    created: list[str] = []
    rng = random.Random(2)
    base = f"{url}/api/v1/namespaces/default/configmaps"

    async def create() -> None:
        body: dict[str, Any] = {"metadata": {"name": f"cm-{next(names)}"}, "data": {"k": "v"}}
        async with session.post(base, json=body) as r:
            await _check(r, 201)
            created.append(body["metadata"]["name"])

    async def get() -> None:
        async with session.get(f"{base}/{rng.choice(created)}") as r:
            await _check(r, 200)

    async def patch() -> None:
        headers = {"Content-Type": "application/merge-patch+json"}
        data = json.dumps({"data": {"k": str(rng.random())}})
        async with session.patch(f"{base}/{rng.choice(created)}", data=data, headers=headers) as r:
            await _check(r, 200)

    async def namespace() -> None:
        async with session.get(f"{url}/api/v1/namespaces/default") as r:
            await _check(r, 200)

    cycle: list[Step] = [create, get, patch, namespace]
    return lambda index: cycle[index % len(cycle)]


async def main(total: int, window: int) -> None:
    figures: list[Figures] = []
    async with aiohttp.ClientSession() as session:
        twilio = TwilioEmulator()
        await twilio.start()
        try:
            figures += await measure("twilio", await twilio_steps(session, twilio), total, window)
        finally:
            await twilio.stop()

        try:
            from twilio_operator.sandbox.kube import KubeEmulator
        except ImportError as error:
            print(
                f"Kubernetes emulator not measured: twilio_operator.sandbox.kube is not importable ({error})"
            )
        else:
            kube = KubeEmulator()
            url = await kube.start()
            try:
                figures += await measure("kube", await kube_steps(session, url), total, window)
            finally:
                await kube.stop()

    print(f"{'emulator':<8} {'window':<22} {'requests':>8} {'mean ms':>9} {'p95 ms':>9}")
    for row in figures:
        print(row.row())
    for early, late in zip(figures[::2], figures[1::2], strict=True):
        ratio = statistics.fmean(late.latencies) / statistics.fmean(early.latencies)
        print(f"{early.emulator}: mean after {total:,} requests is {ratio:.2f}x the first {window}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000, help="requests before the second window")
    parser.add_argument("--window", type=int, default=500, help="requests measured in each window")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.requests, arguments.window))
