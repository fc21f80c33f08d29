"""`twilio-operator run | receiver | tree | sandbox | demo | crds | generate | version`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from . import __version__


def _cmd_version(_: argparse.Namespace) -> int:
    print(f"twilio-operator {__version__}")
    return 0


def _cmd_crds(_: argparse.Namespace) -> int:
    from .api.crd import all_crds, render

    sys.stdout.write("---\n".join(render(crd) for crd in all_crds()))
    return 0


def _cmd_generate(args: argparse.Namespace) -> int:
    from .generate import stale, write

    root = Path(args.root)
    if args.check:
        old = stale(root)
        for path in old:
            print(f"stale: {path} (run `make generate`)", file=sys.stderr)
        return 1 if old else 0
    for path in write(root):
        print(path)
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from .settings import ConfigurationError, Settings, describe

    overrides: dict[str, object] = {}
    if args.allow_parent_account:
        overrides["allow_parent_account"] = True
    if args.allow_raw_account_sid:
        overrides["allow_raw_account_sid"] = True
    if args.allow_purchase:
        overrides["allow_purchase"] = True
    if args.metrics_port is not None:
        overrides["metrics_port"] = args.metrics_port
    if args.metrics_address is not None:
        overrides["metrics_address"] = args.metrics_address
    from .runner import cluster_credentials, run

    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
        settings.credentials()
        cluster_credentials()
    except ValidationError as error:
        print(f"twilio-operator: {describe(error)}", file=sys.stderr)
        return 2
    except ConfigurationError as error:
        print(f"twilio-operator: {error}", file=sys.stderr)
        return 2

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
    from .sandbox.controlplane.errors import ControlPlaneError, ControlPlaneUnavailable
    from .sandbox.runner import kube_backend, serve_forever

    try:
        kube = kube_backend(args.kube)
    except ValueError as error:
        print(f"twilio-operator: {error}", file=sys.stderr)
        return 2
    state_dir = Path(args.state_dir) if args.state_dir else None
    try:
        asyncio.run(
            serve_forever(
                state_dir=state_dir, kube_port=args.kube_port, twilio_port=args.twilio_port, kube=kube
            )
        )
    except (ControlPlaneUnavailable, ControlPlaneError) as error:
        # The control plane's programs are missing or one of them failed: say which, without a traceback.
        print(f"twilio-operator sandbox: {error}", file=sys.stderr)
        return 1
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .sandbox.demo import main as demo_main

    return demo_main(examples=Path(args.examples), timeout=float(args.timeout))


DESCRIPTION = """\
A Kubernetes operator for Twilio messaging accounts: TwilioSubaccount, ApiKey and MessagingService objects
become Twilio subaccounts, API keys (their secret in a Secret) and Messaging Services.
"""

RUN_EPILOG = """\
environment:
  KUBECONFIG                        the cluster (in a pod: its service account)
  TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN
                                    the parent account's credentials (or *_FILE: files re-read when changed)
  TWILIO_API_BASE_URL               send Twilio requests to this base URL (an emulator)
  TWILIO_OPERATOR_*                 tuning: drift interval, pacing, logging, adoption namespaces, ... (the
                                    README's Configuration table lists every one)
"""


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="twilio-operator", description=DESCRIPTION)
    root.add_argument("--version", action="version", version=f"twilio-operator {__version__}")
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="run the operator",
        description="Run the operator against the current cluster and Twilio account.",
        epilog=RUN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument(
        "--namespace", "-n", action="append", help="watch this namespace (repeatable); default all"
    )
    run.add_argument("--allow-parent-account", action="store_true", help="allow keys/services on the parent")
    run.add_argument("--allow-raw-account-sid", action="store_true", help="allow raw accountSid references")
    run.add_argument("--allow-purchase", action="store_true", help="allow PhoneNumbers to buy numbers")
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

    from .plugin import add_tree_arguments
    from .receiver.cli import add_parser as add_receiver_parser

    add_receiver_parser(commands)
    add_tree_arguments(
        commands.add_parser(
            "tree", help="draw the account architecture from the live objects (also: kubectl twilio tree)"
        )
    )

    sandbox = commands.add_parser(
        "sandbox", help="run a Kubernetes API server and the Twilio emulator in the foreground"
    )
    sandbox.add_argument("--state-dir", help="write kubeconfig and twilio.env here")
    sandbox.add_argument("--kube-port", type=int, default=0, help="port of the Kubernetes emulator")
    sandbox.add_argument("--twilio-port", type=int, default=0, help="port of the Twilio emulator")
    sandbox.add_argument(
        "--kube",
        choices=("emulator", "apiserver"),
        default=None,
        help="the Kubernetes side: the in-process emulator (default, or $TWILIO_SANDBOX_KUBE) or a real "
        "kube-apiserver, etcd and kube-controller-manager built by scripts/controlplane.sh",
    )
    sandbox.set_defaults(func=_cmd_sandbox)

    demo = commands.add_parser("demo", help="sandbox + operator + examples, end to end")
    demo.add_argument("--examples", default="examples/quickstart", help="manifests to apply")
    demo.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for Ready")
    demo.set_defaults(func=_cmd_demo)

    crds = commands.add_parser("crds", help="print the CustomResourceDefinitions")
    crds.set_defaults(func=_cmd_crds)

    generate = commands.add_parser(
        "generate",
        help="write the files derived from the kinds: CRDs, the chart's RBAC, Argo CD health checks",
    )
    generate.add_argument("--root", default=".", help="the repository's top directory (default: .)")
    generate.add_argument("--check", action="store_true", help="only say which files are stale (exit 1)")
    generate.set_defaults(func=_cmd_generate)

    version = commands.add_parser("version", help="print the version")
    version.set_defaults(func=_cmd_version)
    return root


def main(argv: list[str] | None = None) -> int:
    from .tree import KubectlError

    args = parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except KubectlError as error:
        print(f"twilio-operator: {error}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
