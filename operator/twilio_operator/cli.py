"""`twilio-operator run | receiver | sandbox | demo | crds | version`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from . import __version__


def _cmd_version(_: argparse.Namespace) -> int:
    print(f"twilio-operator {__version__}")
    return 0


def _cmd_crds(args: argparse.Namespace) -> int:
    from .api.crd import all_crds, render, write_crds

    if args.write:
        for path in write_crds(Path(args.write)):
            print(path)
    else:
        sys.stdout.write("---\n".join(render(crd) for crd in all_crds()))
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from .settings import ConfigurationError, Settings, describe

    overrides: dict[str, object] = {}
    if args.allow_parent_account:
        overrides["allow_parent_account"] = True
    if args.allow_raw_account_sid:
        overrides["allow_raw_account_sid"] = True
    if args.metrics_port is not None:
        overrides["metrics_port"] = args.metrics_port
    if args.metrics_address is not None:
        overrides["metrics_address"] = args.metrics_address
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
        settings.credentials()
    except ValidationError as error:
        print(f"twilio-operator: {describe(error)}", file=sys.stderr)
        return 2
    except ConfigurationError as error:
        print(f"twilio-operator: {error}", file=sys.stderr)
        return 2
    from .runner import run

    try:
        return run(
            settings,
            namespaces=args.namespace or [],
            liveness=args.liveness,
            peering=args.peering,
            priority=args.priority,
        )
    except ConfigurationError as error:
        print(f"twilio-operator: {error}", file=sys.stderr)
        return 2


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"not a TCP port (1-65535): {value!r}")
    return port


def _cmd_sandbox(args: argparse.Namespace) -> int:
    from .sandbox.runner import serve_forever

    state_dir = Path(args.state_dir) if args.state_dir else None
    asyncio.run(serve_forever(state_dir=state_dir, kube_port=args.kube_port, twilio_port=args.twilio_port))
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .sandbox.demo import main as demo_main

    return demo_main(examples=Path(args.examples), timeout=float(args.timeout))


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="twilio-operator", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the operator")
    run.add_argument(
        "--namespace", "-n", action="append", help="watch this namespace (repeatable); default all"
    )
    run.add_argument("--allow-parent-account", action="store_true", help="allow keys/services on the parent")
    run.add_argument("--allow-raw-account-sid", action="store_true", help="allow raw accountSid references")
    run.add_argument("--liveness", default=None, help="liveness endpoint, e.g. http://0.0.0.0:8080/healthz")
    run.add_argument("--peering", default=None, help="kopf peering name, for more than one replica")
    run.add_argument(
        "--priority", type=int, default=None, help="peering priority (default: random, so one replica leads)"
    )
    run.add_argument(
        "--metrics-port",
        type=_port,
        default=None,
        help="serve Prometheus metrics on /metrics at this port (default: TWILIO_OPERATOR_METRICS_PORT, off)",
    )
    run.add_argument(
        "--metrics-address",
        default=None,
        help="address of the metrics endpoint (default: TWILIO_OPERATOR_METRICS_ADDRESS, 0.0.0.0)",
    )
    run.set_defaults(func=_cmd_run)

    from .receiver.cli import add_parser as add_receiver_parser

    add_receiver_parser(commands)

    sandbox = commands.add_parser("sandbox", help="run the Kubernetes and Twilio emulators in the foreground")
    sandbox.add_argument("--state-dir", help="write kubeconfig and twilio.env here")
    sandbox.add_argument("--kube-port", type=int, default=0, help="port of the Kubernetes emulator")
    sandbox.add_argument("--twilio-port", type=int, default=0, help="port of the Twilio emulator")
    sandbox.set_defaults(func=_cmd_sandbox)

    demo = commands.add_parser("demo", help="sandbox + operator + examples, end to end")
    demo.add_argument("--examples", default="examples/quickstart", help="manifests to apply")
    demo.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for Ready")
    demo.set_defaults(func=_cmd_demo)

    crds = commands.add_parser("crds", help="print the CustomResourceDefinitions, or write them")
    crds.add_argument("--write", metavar="DIR", help="write one file per CRD into DIR")
    crds.set_defaults(func=_cmd_crds)

    version = commands.add_parser("version", help="print the version")
    version.set_defaults(func=_cmd_version)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
