"""What can stop the real control plane, importable without its dependencies (the CLI reports these)."""

from __future__ import annotations


class ControlPlaneUnavailable(RuntimeError):
    """The programs are not built; the message says how to build them."""


class ControlPlaneError(RuntimeError):
    """A program exited or did not become ready; the message ends with its log's tail."""
