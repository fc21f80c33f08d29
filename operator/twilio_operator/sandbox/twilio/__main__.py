"""Run the Twilio emulator in its own process.

``python -m twilio_operator.sandbox.twilio --port 8080 --seed 0`` prints one JSON line with the URL and the
parent credentials, then serves until interrupted (SIGINT or SIGTERM).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys

from .emulator import TwilioEmulator


async def _serve(args: argparse.Namespace) -> None:
    emulator = TwilioEmulator(latency=args.latency, concurrency_limit=args.concurrency_limit, seed=args.seed)
    await emulator.start(args.host, args.port)
    print(json.dumps(emulator.info()), flush=True)
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, done.set)
    try:
        await done.wait()
    finally:
        await emulator.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m twilio_operator.sandbox.twilio", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--concurrency-limit", type=int, default=None)
    asyncio.run(_serve(parser.parse_args(argv if argv is not None else sys.argv[1:])))


if __name__ == "__main__":
    main()
