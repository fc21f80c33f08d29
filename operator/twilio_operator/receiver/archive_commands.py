"""`twilio-operator receiver archive fetch | list`, run where the receiver runs.

``kubectl exec deploy/<receiver> -- twilio-operator receiver archive fetch --day 2026-01-31`` takes the pod's
settings, service account and database: the accounts and their tokens come from the namespace's credentials
Secrets, listed once as the server lists them. Each account gets one line, on stdout when its day was read,
on stderr when it was not; the exit status is 1 if any account failed.
"""

from __future__ import annotations

import sys
from typing import IO

import aiohttp

from ..kube.client import KubeError
from .archives import ArchiveError, ArchiveReader
from .committer import Committer
from .directory import Directory
from .server import kube_access
from .settings import ReceiverSettings
from .sources import NamespaceSources
from .store import open_store
from .summary import iso


async def credentials(settings: ReceiverSettings) -> tuple[Directory, str]:
    """The namespace's accounts and tokens, from one listing of its Secrets and objects."""
    kube, namespace = kube_access(settings)
    directory = Directory()
    try:
        await NamespaceSources(kube, namespace, directory).list_once()
    except KubeError as error:
        raise ArchiveError(
            f"cannot read the credentials Secrets of namespace {namespace}: {error}"
        ) from error
    finally:
        await kube.close()
    return directory, namespace


async def fetch(
    settings: ReceiverSettings,
    day: str,
    accounts: list[str],
    out: IO[str] = sys.stdout,
    err: IO[str] = sys.stderr,
) -> int:
    """Read the day's archive of each account (the given ones, else every one with credentials) into the
    store; return the exit status."""
    directory, namespace = await credentials(settings)
    chosen = accounts or directory.accounts()
    if not chosen:
        print(f"no credentials Secrets in namespace {namespace}: no account to fetch", file=err)
        return 1
    store = open_store(settings.database, settings.database_password_value())
    await store.start()
    committer = Committer(store, settings.commit_batch)
    committer.start()
    failed = 0
    try:
        async with aiohttp.ClientSession() as session:
            reader = ArchiveReader(store, committer, session, settings.api_base_url, settings.request_timeout)
            for account in chosen:
                who = f"{account} ({directory.subaccount(account)}) {day}"
                token = directory.token(account)
                if token is None:
                    print(f"{who}: no credentials Secret for this account in namespace {namespace}", file=err)
                    failed += 1
                    continue
                try:
                    done = await reader.fetch(account, token, day)
                except ArchiveError as error:
                    print(f"{who}: {error}", file=err)
                    failed += 1
                    continue
                print(
                    f"{who}: {done.messages} messages in the archive, {done.moved} stored or moved forward",
                    file=out,
                )
    finally:
        await committer.stop()
        await store.close()
    return 1 if failed else 0


async def list_days(settings: ReceiverSettings, out: IO[str] = sys.stdout) -> int:
    """The days recorded, newest first: when Twilio said each was ready, and when it was read."""
    store = open_store(settings.database, settings.database_password_value())
    await store.start()
    try:
        days = await store.archive_days()
    finally:
        await store.close()
    print(_row("DAY", "ACCOUNT", "TYPE", "READY", "FETCHED", "MESSAGES"), file=out)
    for day in days:
        messages = "-" if day.messages is None else str(day.messages)
        ready, fetched = iso(day.notified_at) or "-", iso(day.fetched_at) or "-"
        print(_row(day.day, day.account_sid, day.resource_type, ready, fetched, messages), file=out)
    return 0


def _row(day: str, account: str, kind: str, ready: str, fetched: str, messages: str) -> str:
    return f"{day:<11}{account:<35}{kind:<10}{ready:<22}{fetched:<22}{messages}"
