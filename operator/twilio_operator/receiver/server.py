"""`twilio-operator receiver`: the process. HTTP first, then the database and the namespace's objects.

The HTTP server starts at once so probes answer: `/healthz` is alive from the start, `/readyz` and the
Twilio endpoints wait (503) until the database is connected and migrated, which is retried until it works.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
import time

import kopf
from aiohttp import web

from ..kube.client import Credentials, KubeClient
from .app import Receiver
from .committer import Committer
from .directory import Directory
from .metrics import ReceiverMetrics
from .repair import Outages, Repairer, RepairSettings
from .settings import ReceiverConfigurationError, ReceiverSettings
from .sources import NamespaceSources
from .store import open_store
from .store.base import Store, StoreUnavailable
from .tasks import cancel

log = logging.getLogger("twilio_operator.receiver")


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(
            {
                "time": self.formatTime(record),
                "level": record.levelname,
                "logger": record.name,
                "message": record.getMessage(),
            }
        )


def configure_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        _JsonFormatter()
        if fmt == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiohttp's access log would write every callback's URL; the receiver logs what matters itself.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def connection() -> kopf.ConnectionInfo | None:
    settings = kopf.OperatorSettings()
    info: kopf.ConnectionInfo | None = kopf.login_with_service_account(
        settings=settings
    ) or kopf.login_with_kubeconfig(settings=settings)
    return info


def kube_access(settings: ReceiverSettings) -> tuple[KubeClient, str]:
    """A client of the API server, logged in as the pod's service account (else from KUBECONFIG), and the
    namespace whose credentials Secrets and objects the receiver reads. Create it inside the running loop."""
    info = connection()
    if info is None:
        raise ReceiverConfigurationError(
            "no Kubernetes credentials (in-cluster service account or KUBECONFIG): the receiver reads the "
            "subaccounts' auth tokens from their credentials Secrets"
        )
    namespace = settings.namespace or info.default_namespace
    if not namespace:
        raise ReceiverConfigurationError("set --namespace (TWILIO_RECEIVER_NAMESPACE)")
    credentials = Credentials()
    # Logged in again, the same way, when the API server refuses an expired service-account token.
    credentials.update(info, connection)
    return KubeClient(credentials), namespace


async def connect_store(store: Store, receiver: Receiver, metrics: ReceiverMetrics) -> None:
    pause = 0.5
    while True:
        try:
            await store.start()
        except StoreUnavailable as error:
            metrics.db_up.set(0)
            log.warning("database not reachable, retrying in %.1fs: %s", pause, error)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 10.0)
            continue
        receiver.store_started = True
        metrics.db_up.set(1)
        log.info("database %s connected and migrated", store.kind)
        return


async def note_downtime(store: Store, sources: NamespaceSources, outages: Outages, limit: float) -> None:
    """Callbacks sent while the receiver was down are lost: the repair pass catches up from the newest stored
    event (no further back than ``limit``), once the credentials are known."""
    last = await store.last_received()
    if last is None or not limit:
        return
    try:
        await asyncio.wait_for(sources.wait_synced(), 30)
    except TimeoutError:
        log.warning("the namespace's objects are not listed yet; catching up with what is known")
    outages.note(max(last, time.time() - limit))


async def serve(settings: ReceiverSettings) -> None:
    host, port = settings.host_port()
    store = open_store(settings.database, settings.database_password_value())
    directory = Directory()
    metrics = ReceiverMetrics(directory)
    committer = Committer(store, settings.commit_batch, on_commit=metrics.committed)
    outages = Outages()
    receiver = Receiver(
        store,
        committer,
        directory,
        metrics,
        public_url=settings.public_url,
        max_body=settings.max_body,
        outages=outages,
    )
    kube, namespace = kube_access(settings)
    runner = web.AppRunner(receiver.application(), access_log=None, shutdown_timeout=5.0)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    log.info("listening on %s:%d, credentials from namespace %s", host, port, namespace)

    sources = NamespaceSources(kube, namespace, directory)
    receiver.credentials_loaded = sources.credentials_loaded
    sources.start()
    repairer = Repairer(
        store,
        committer,
        directory,
        metrics,
        RepairSettings(
            age=settings.repair_age,
            interval=settings.repair_interval,
            batch=settings.repair_batch,
            concurrency=settings.repair_concurrency,
            rate=settings.repair_rate,
            timeout=settings.request_timeout,
            api_base_url=settings.api_base_url,
        ),
        outages,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    tasks: list[asyncio.Task[None]] = []
    try:
        await connect_store(store, receiver, metrics)
        committer.start()
        await note_downtime(store, sources, outages, settings.catch_up_limit)
        tasks.append(asyncio.create_task(repairer.run(), name="repair"))
        await stop.wait()
    finally:
        log.info("stopping")
        await runner.shutdown()
        await runner.cleanup()
        await cancel(*tasks)
        await committer.stop()
        await sources.stop()
        await kube.close()
        await store.close()
