"""Where delivery data is kept: SQLite (embedded default) or PostgreSQL, one schema, migrated at start."""

from __future__ import annotations

import urllib.parse

from .base import Store


def open_store(url: str, password: str | None = None) -> Store:
    """The store for a ``sqlite:///PATH`` or ``postgresql://...`` URL (not yet connected: call ``start``)."""
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme == "sqlite":
        from .sqlite import SqliteStore

        return SqliteStore(url)
    if scheme in ("postgresql", "postgres"):
        from .postgres import PostgresStore

        return PostgresStore(url, password)
    raise ValueError(f"unsupported database URL scheme {scheme!r}: use sqlite:/// or postgresql://")


__all__ = ["Store", "open_store"]
