"""Run the emulator on its own: `python -m twilio_operator.sandbox.kube --port 0 --kubeconfig kc.yaml`.

Prints the base URL on one line once it is listening, so a parent process can read it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from pathlib import Path

from . import KubeEmulator, kubeconfig_yaml


async def _serve(args: argparse.Namespace) -> None:
    emulator = KubeEmulator(bookmark_interval=args.bookmark_interval, event_window=args.event_window)
    url = await emulator.start(args.host, args.port)
    if args.kubeconfig:
        await asyncio.to_thread(Path(args.kubeconfig).write_text, kubeconfig_yaml(url))
    print(url, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await emulator.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--kubeconfig", help="write a kubeconfig for the emulator to this path")
    parser.add_argument("--bookmark-interval", type=float, default=5.0)
    parser.add_argument("--event-window", type=int, default=10000)
    asyncio.run(_serve(parser.parse_args()))


if __name__ == "__main__":
    main()
