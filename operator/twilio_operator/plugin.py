"""`kubectl twilio`: the account architecture drawn, and the actions people otherwise type as annotations.

    kubectl twilio tree [-n NS | -A] [-o text|mermaid|svg]
    kubectl twilio rotate apikey/NAME        a new API key now (the old one lives out its grace period)
    kubectl twilio sync KIND/NAME            a pass now, Twilio read afresh
    kubectl twilio pause KIND/NAME           the operator leaves the object alone
    kubectl twilio resume KIND/NAME

kubectl runs it as a plugin (`kubectl-twilio` on PATH); `twilio-operator tree` is the same drawing.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .clock import now_rfc3339
from .reconcile.apikey import ROTATE_REQUESTED_AT
from .reconcile.model import PAUSED, RECONCILE_REQUESTED_AT
from .tree import FORMS, KubectlError, build, kubectl, objects


def connection(args: argparse.Namespace) -> list[str]:
    """The kubectl options that say which cluster, as kubectl plugins are expected to pass them on."""
    found = []
    if args.kubeconfig:
        found += ["--kubeconfig", args.kubeconfig]
    if args.context:
        found += ["--context", args.context]
    return found


def _tree(args: argparse.Namespace) -> int:
    namespace = None if args.all_namespaces else args.namespace
    drawing = FORMS[args.output](build(objects(namespace, connection(args))))
    sys.stdout.write(drawing)
    return 0


def _annotate(args: argparse.Namespace, annotation: str, value: str | None) -> int:
    kind, _, name = args.object.partition("/")
    if not name:
        print(
            f"kubectl twilio {args.action}: name the object as KIND/NAME, e.g. apikey/notifier",
            file=sys.stderr,
        )
        return 2
    where = ["--namespace", args.namespace] if args.namespace else []
    change = f"{annotation}-" if value is None else f"{annotation}={value}"
    sys.stdout.write(kubectl(["annotate", "--overwrite", kind, name, *where, change], connection(args)))
    return 0


ACTIONS = {
    "rotate": (ROTATE_REQUESTED_AT, True),
    "sync": (RECONCILE_REQUESTED_AT, True),
    "pause": (PAUSED, False),
    "resume": (PAUSED, False),
}


def _act(args: argparse.Namespace) -> int:
    annotation, stamped = ACTIONS[args.action]
    if args.action == "rotate" and not args.object.lower().startswith(("apikey/", "apikeys/", "tkey/")):
        print("kubectl twilio rotate: only API keys rotate, e.g. apikey/notifier", file=sys.stderr)
        return 2
    value = now_rfc3339() if stamped else "true" if args.action == "pause" else None
    return _annotate(args, annotation, value)


def add_tree_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-n", "--namespace", help="the namespace to draw (default: the context's)")
    parser.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace")
    parser.add_argument(
        "-o", "--output", choices=sorted(FORMS), default="text", help="text (default), mermaid or svg"
    )
    parser.add_argument("--kubeconfig", help="the kubeconfig file (default: KUBECONFIG or ~/.kube/config)")
    parser.add_argument("--context", help="the kubeconfig context (default: its current one)")
    parser.set_defaults(func=_tree)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="kubectl twilio",
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_tree_arguments(
        commands.add_parser("tree", help="draw the account architecture from the live objects")
    )
    for action, summary in (
        ("rotate", "replace an API key now"),
        ("sync", "run a pass now"),
        ("pause", "leave an object alone"),
        ("resume", "manage a paused object again"),
    ):
        command = commands.add_parser(action, help=summary)
        command.add_argument("object", metavar="KIND/NAME")
        command.add_argument("-n", "--namespace", help="its namespace (default: the context's)")
        command.add_argument("--kubeconfig")
        command.add_argument("--context")
        command.set_defaults(func=_act, action=action)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except KubectlError as error:
        print(f"kubectl twilio: {error}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
