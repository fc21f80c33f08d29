"""Start kopf with our registry and settings."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
from wsgiref.simple_server import WSGIServer

import kopf

from . import metrics
from .handlers import OWNED_SECRETS, login, register
from .kube.peering import PeeringConfig
from .reconcile.handled import HandledRecord
from .reconcile.model import FINALIZER
from .settings import ConfigurationError, Settings

log = logging.getLogger(__name__)


def operator_settings(settings: Settings, handled: HandledRecord | None = None) -> kopf.OperatorSettings:
    config = kopf.OperatorSettings()
    # Events only when we say so: kopf's per-handler success events would double the API traffic.
    config.posting.level = logging.WARNING
    config.persistence.finalizer = FINALIZER
    config.persistence.diffbase_storage = handled or HandledRecord()
    config.persistence.progress_storage = kopf.AnnotationsProgressStorage()
    config.watching.server_timeout = 300
    config.watching.client_timeout = 330
    config.networking.request_timeout = 60
    config.queueing.error_delays = (1, 2, 5, 10, 30)
    # Only the Secrets the operator wrote are watched (their owners are woken when someone changes one).
    config.watching.label_selectors["v1", "secrets"] = OWNED_SECRETS
    # With --peering only: a replica killed without a goodbye blocks the standby ones until its keep-alive
    # expires, so this bounds the handover time.
    config.peering.lifetime = settings.peering_lifetime
    return config


# The logger's name says nothing to an operator on call (kopf's are cut to 20 characters): time, level, line.
PLAIN_FORMAT = "[%(asctime)s] %(levelname)-7s %(message)s"


class QuietWatchers(logging.Filter):
    """Drops kopf's "Handler 'track...' succeeded." lines: the index and event handlers run for every
    watch event, so at scale those lines would be most of the log while saying nothing (failures show)."""

    def __init__(self, handlers: frozenset[str]) -> None:
        super().__init__()
        self.succeeded = frozenset(
            f"{what} '{handler}' succeeded." for handler in handlers for what in ("Handler", "Indexer")
        )

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.INFO or record.getMessage() not in self.succeeded


def configure_logging(settings: Settings, watchers: frozenset[str] = frozenset()) -> None:
    json_lines = settings.log_format == "json"
    kopf.configure(
        debug=settings.log_level == "DEBUG",
        verbose=settings.log_level in ("DEBUG", "INFO"),
        log_format=kopf.LogFormat.JSON if json_lines else PLAIN_FORMAT,  # type: ignore[arg-type]  # kopf takes str too
        # Every line about an object names it: "[namespace/name] ..." in text, an "object" field in JSON.
        log_prefix=not json_lines,
        log_refkey="object" if json_lines else None,
    )
    level = getattr(logging, settings.log_level)
    logging.getLogger().setLevel(level)
    # The SDK logs every request and its headers at INFO; our own logs say what matters.
    logging.getLogger("twilio").setLevel(logging.WARNING)
    objects = logging.getLogger("kopf.objects")
    for old in [f for f in objects.filters if isinstance(f, QuietWatchers)]:
        objects.removeFilter(old)
    objects.addFilter(QuietWatchers(watchers))


def run(
    settings: Settings,
    namespaces: list[str],
    liveness: str | None,
    peering: str | None,
    priority: int | None = None,
) -> int:
    registry = kopf.OperatorRegistry()
    handled = HandledRecord()
    # Replicas of equal priority all pause; distinct ones let the highest lead, the rest stand by.
    priority = priority if priority is not None else random.randint(1, 1_000_000)
    identity = peering_identity()
    config = None if peering is None else PeeringConfig(peering, identity, priority, tuple(namespaces))
    watchers = register(registry, settings, handled, config)
    configure_logging(settings, watchers)
    server = serve_metrics(settings)
    try:
        asyncio.run(
            kopf.operator(
                registry=registry,
                settings=operator_settings(settings, handled),
                clusterwide=not namespaces,
                namespaces=namespaces,
                standalone=peering is None,
                peering_name=peering,
                priority=priority,
                identity=identity,  # type: ignore[arg-type]  # kopf's Identity is a NewType of str
                liveness_endpoint=liveness,
            )
        )
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
    return 0


def cluster_credentials() -> kopf.ConnectionInfo:
    """The cluster credentials kopf will log in with, found before it starts, so a missing or broken
    kubeconfig stops the start with one line instead of a traceback and a process that keeps running."""
    try:
        info = login(kopf.OperatorSettings())
    except (OSError, ValueError, KeyError, kopf.LoginError) as error:
        raise ConfigurationError(f"cannot read the Kubernetes credentials: {error}") from error
    if info is None:
        raise ConfigurationError(
            "no Kubernetes credentials: set KUBECONFIG (or write ~/.kube/config), or run in a pod with a "
            "service account"
        )
    return info


def peering_identity() -> str:
    """This replica's name in the peering objects: the pod's name in a cluster (the chart sets POD_ID),
    unique per process elsewhere. Chosen here, not by kopf, so the drift timer knows its own record."""
    pod = os.environ.get("POD_ID")
    return pod or f"{socket.gethostname()}-{os.getpid()}-{random.randint(0, 2**32):08x}"


def serve_metrics(settings: Settings) -> WSGIServer | None:
    """Start the metrics endpoint if configured; a port that cannot be bound stops the start."""
    if settings.metrics_port is None:
        return None
    try:
        server, _ = metrics.serve(settings.metrics_port, settings.metrics_address)
    except OSError as error:
        raise ConfigurationError(
            f"cannot serve metrics on {settings.metrics_address}:{settings.metrics_port}:"
            f" {error.strerror or error}; set TWILIO_OPERATOR_METRICS_PORT (--metrics-port) to a free port"
        ) from error
    log.info("serving metrics on http://%s:%d/metrics", settings.metrics_address, settings.metrics_port)
    return server
