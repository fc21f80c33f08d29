"""`twilio-operator run | sandbox | demo | crds | version`."""

from __future__ import annotations

import argparse
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


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="twilio-operator", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)

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
