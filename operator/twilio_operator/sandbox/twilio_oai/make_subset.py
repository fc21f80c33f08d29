"""Derive the OpenAPI subsets the Twilio emulator validates against from Twilio's official specs.

The specs come from the npm package ``@twilio-alpha/mcp@0.7.0`` (``package/twilio-oai/spec/json/``), which
ships Twilio's own twilio-oai files. Each subset keeps the top-level metadata of its full spec, the listed
paths (only the listed operations of each path) and every component schema those operations reference,
directly or transitively. Nothing inside a kept path or schema is altered, so a subset is exactly as strict as
the official spec for the operations it keeps.

The emulator needs two more api_v2010 paths than the project's original reference subsets carried: the
operator resolves an E.164 number to the subaccount's IncomingPhoneNumber and lists short codes. Only the
numbers are bought (``CreateIncomingPhoneNumber`` after an ``AvailablePhoneNumbers`` search), updated
(``UpdateIncomingPhoneNumber``: number-level webhooks, and the exchange of a number between the parent and
its subaccounts with ``AccountSid``) and released, as the PhoneNumber kind does. Messages are sent
(``CreateMessage``), listed (``ListMessage``) and fetched (``FetchMessage``) so the delivery-data receiver's
status callbacks, its repair of lost ones and its catch-up after an outage run against the real contract;
updating and deleting messages are left out. Event Streams (``twilio_events_v1``) keeps sinks, their test and
validation, subscriptions, their subscribed event types and the event type catalogue; schemas and replays are
left out. This month's usage records, usage triggers and the bulk export of
messages (its configuration and the days ready) back the subaccounts' usage, alerts and archives.

Usage (needs ``npm`` and the npm registry, or an already downloaded tarball)::

    python make_subset.py                      # npm pack into a temp dir, write here
    python make_subset.py --tarball twilio-alpha-mcp-0.7.0.tgz --out DIR

It writes ``twilio_{api_v2010,messaging_v1,iam_v1,events_v1,bulkexports_v1}.subset.json`` and
``SOURCE.md`` (sha256 of every input and output file), and checks every output with openapi-spec-validator.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

PACKAGE = "@twilio-alpha/mcp"
VERSION = "0.7.0"
SPEC_DIR = "package/twilio-oai/spec/json"

# sha256 of the full specs inside the tarball; a mismatch means the package is not the one documented here.
FULL_SPEC_SHA256 = {
    "twilio_api_v2010.json": "475b69553e34e797af05d34679cdad3bc3b8b4b8b92e6ac044fa6ebc255bf052",
    "twilio_messaging_v1.json": "b82234c04d804b9f3d971bf40ece272c453cb54b7d7168484bffc00a2c5bd1b0",
    "twilio_iam_v1.json": "cd49b76f73b8a7312445664ed22b2e510e90a31e4f9709e2b157e5bd8687387d",
    "twilio_events_v1.json": "2bc57338abc5200312ae88d417fe8d7104501e256ec07009157770de921ef99d",
    "twilio_bulkexports_v1.json": "60ed68bfa01134d7f165db9067570f50bc67263d53a64dad9207a40b99cb29ed",
}

ALL = ("get", "post", "delete")

# spec file -> (path -> operations kept, extra component schemas kept even if unreferenced)
SUBSETS: dict[str, tuple[dict[str, tuple[str, ...]], tuple[str, ...]]] = {
    "twilio_api_v2010": (
        {
            "/2010-04-01/Accounts.json": ALL,
            "/2010-04-01/Accounts/{Sid}.json": ALL,
            "/2010-04-01/Accounts/{AccountSid}/Keys.json": ALL,
            "/2010-04-01/Accounts/{AccountSid}/Keys/{Sid}.json": ALL,
            "/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers.json": ("get", "post"),
            "/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers/{Sid}.json": ALL,
            "/2010-04-01/Accounts/{AccountSid}/AvailablePhoneNumbers/{CountryCode}/Local.json": ("get",),
            "/2010-04-01/Accounts/{AccountSid}/AvailablePhoneNumbers/{CountryCode}/Mobile.json": ("get",),
            "/2010-04-01/Accounts/{AccountSid}/AvailablePhoneNumbers/{CountryCode}/TollFree.json": ("get",),
            "/2010-04-01/Accounts/{AccountSid}/SMS/ShortCodes.json": ("get",),
            "/2010-04-01/Accounts/{AccountSid}/SMS/ShortCodes/{Sid}.json": ("get",),
            "/2010-04-01/Accounts/{AccountSid}/Messages.json": ("post", "get"),
            "/2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json": ("get",),
            "/2010-04-01/Accounts/{AccountSid}/Usage/Records/ThisMonth.json": ("get",),
            "/2010-04-01/Accounts/{AccountSid}/Usage/Triggers.json": ("post", "get"),
            "/2010-04-01/Accounts/{AccountSid}/Usage/Triggers/{Sid}.json": ALL,
        },
        (),
    ),
    "twilio_messaging_v1": (
        {
            "/v1/Services": ALL,
            "/v1/Services/{Sid}": ALL,
            "/v1/Services/{ServiceSid}/PhoneNumbers": ALL,
            "/v1/Services/{ServiceSid}/PhoneNumbers/{Sid}": ALL,
            "/v1/Services/{ServiceSid}/ShortCodes": ALL,
            "/v1/Services/{ServiceSid}/ShortCodes/{Sid}": ALL,
            "/v1/Services/{ServiceSid}/AlphaSenders": ALL,
            "/v1/Services/{ServiceSid}/AlphaSenders/{Sid}": ALL,
        },
        (),
    ),
    # The error schema is kept so tests can check 4xx bodies: api_v2010 and messaging_v1 describe none.
    "twilio_iam_v1": ({"/v1/Keys": ALL, "/v1/Keys/{Sid}": ALL}, ("twilio.service_error_response",)),
    # Event Streams: sinks (with their test-and-validate step), subscriptions, their subscribed event types,
    # and the catalogue of event types the operator checks a spec's types against.
    "twilio_events_v1": (
        {
            "/v1/Sinks": ("get", "post"),
            "/v1/Sinks/{Sid}": ALL,
            "/v1/Sinks/{Sid}/Test": ("post",),
            "/v1/Sinks/{Sid}/Validate": ("post",),
            "/v1/Subscriptions": ("get", "post"),
            "/v1/Subscriptions/{Sid}": ALL,
            "/v1/Subscriptions/{SubscriptionSid}/SubscribedEvents": ("get", "post"),
            "/v1/Subscriptions/{SubscriptionSid}/SubscribedEvents/{Type}": ALL,
            "/v1/Types": ("get",),
            "/v1/Types/{Type}": ("get",),
        },
        (),
    ),
    # Message archives: the daily export's configuration, and the days ready to fetch.
    "twilio_bulkexports_v1": (
        {
            "/v1/Exports/{ResourceType}/Configuration": ("get", "post"),
            "/v1/Exports/{ResourceType}/Days": ("get",),
            "/v1/Exports/{ResourceType}/Days/{Day}": ("get",),
        },
        (),
    ),
}

TOP_LEVEL_ORDER = ("info", "openapi", "servers", "tags", "security", "paths", "components")
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
REF_PREFIX = "#/components/schemas/"


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, Mapping):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF_PREFIX):
            yield ref[len(REF_PREFIX) :]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def make_subset(full: Mapping[str, Any], paths: Mapping[str, tuple[str, ...]], extra: tuple[str, ...]) -> Any:
    """Return the subset of ``full`` holding ``paths`` (with only the given operations) and their schemas."""
    kept_paths: dict[str, Any] = {}
    for path, operations in paths.items():
        item = full["paths"][path]
        missing = [op for op in operations if op not in item]
        if missing and operations is not ALL:
            raise KeyError(f"{path} has no operation {missing}")
        kept_paths[path] = {k: v for k, v in item.items() if k not in HTTP_METHODS or k in operations}

    schemas = full["components"]["schemas"]
    needed: set[str] = set()
    pending = [*_refs(kept_paths), *extra]
    while pending:
        name = pending.pop()
        if name not in needed:
            needed.add(name)
            pending.extend(_refs(schemas[name]))

    components = {
        "securitySchemes": full["components"]["securitySchemes"],
        # Full-spec order keeps the output stable from run to run.
        "schemas": {name: body for name, body in schemas.items() if name in needed},
    }
    subset = {key: full[key] for key in TOP_LEVEL_ORDER if key not in ("paths", "components")}
    subset["paths"] = kept_paths
    subset["components"] = components
    return {key: subset[key] for key in TOP_LEVEL_ORDER}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_full_specs(tarball: Path) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    with tarfile.open(tarball, "r:gz") as archive:
        for name, expected in FULL_SPEC_SHA256.items():
            member = archive.extractfile(f"{SPEC_DIR}/{name}")
            if member is None:
                raise FileNotFoundError(f"{SPEC_DIR}/{name} not in {tarball}")
            data = member.read()
            if _sha256(data) != expected:
                raise ValueError(f"{name}: sha256 {_sha256(data)} differs from the documented one")
            found[name] = data
    return found


def _npm_pack(workdir: Path) -> Path:
    subprocess.run(
        ["npm", "pack", f"{PACKAGE}@{VERSION}", "--silent"], cwd=workdir, check=True, capture_output=True
    )
    return workdir / f"twilio-alpha-mcp-{VERSION}.tgz"


def _source_md(tarball_sha: str, inputs: Mapping[str, bytes], outputs: Mapping[str, bytes]) -> str:
    out = io.StringIO()
    out.write("# Source of the OpenAPI files in this folder\n\n")
    out.write(
        f"Derived from the npm package `{PACKAGE}@{VERSION}` (MIT, published by Twilio), folder "
        f"`{SPEC_DIR}/`, by `make_subset.py` in this folder. Tarball sha256: `{tarball_sha}`.\n\n"
    )
    out.write("| Full spec in the package | Bytes | sha256 |\n|---|---|---|\n")
    for name, data in inputs.items():
        out.write(f"| `{name}` | {len(data)} | `{_sha256(data)}` |\n")
    out.write(
        "\n| Subset file (used by the emulator) | Bytes | sha256 | Paths (operations) |\n|---|---|---|---|\n"
    )
    for name, data in outputs.items():
        paths = SUBSETS[name.removesuffix(".subset.json")][0]
        listed = ", ".join(
            f"`{path}`" + ("" if ops is ALL else f" ({'/'.join(op.upper() for op in ops)})")
            for path, ops in paths.items()
        )
        out.write(f"| `{name}` | {len(data)} | `{_sha256(data)}` | {listed} |\n")
    out.write(
        "\nEach subset keeps the full spec's `info`, `openapi`, `servers`, `tags` and `security`, the listed "
        "paths unchanged except for dropped operations, and every component schema they reference. "
        "`twilio_iam_v1.subset.json` also keeps `twilio.service_error_response`, the error body schema. "
        "Every subset passes openapi-spec-validator. Regenerate with `python make_subset.py` (needs npm).\n"
    )
    return out.getvalue()


def build(tarball: Path, out_dir: Path) -> dict[str, bytes]:
    """Write the subsets and SOURCE.md into ``out_dir``; return the subset files' bytes by name."""
    from openapi_spec_validator import validate  # a build-time tool, not a runtime dependency

    inputs = _read_full_specs(tarball)
    outputs: dict[str, bytes] = {}
    for name, (paths, extra) in SUBSETS.items():
        full = json.loads(inputs[f"{name}.json"])
        subset = make_subset(full, paths, extra)
        validate(subset)
        # indent=1 without a trailing newline is the layout of the project's original reference subsets.
        outputs[f"{name}.subset.json"] = json.dumps(subset, indent=1).encode()
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, data in outputs.items():
        (out_dir / name).write_bytes(data)
    source = _source_md(_sha256(tarball.read_bytes()), inputs, outputs)
    (out_dir / "SOURCE.md").write_text(source, encoding="utf-8")
    return outputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tarball", type=Path, help=f"{PACKAGE}-{VERSION} tarball (default: npm pack)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args()
    if args.tarball is not None:
        build(args.tarball, args.out)
        return
    with tempfile.TemporaryDirectory() as tmp:
        build(_npm_pack(Path(tmp)), args.out)


if __name__ == "__main__":
    main()
