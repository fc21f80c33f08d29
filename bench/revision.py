"""The commit a benchmark measured, for its figures file."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def revision() -> str:
    """The commit the operator ran from, marked when operator/ had uncommitted changes."""
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT, check=False
    )
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "operator"], capture_output=True, text=True, cwd=ROOT, check=False
    )
    return (
        head.stdout.strip() + ("+uncommitted" if dirty.stdout.strip() else "")
        if head.returncode == 0
        else "?"
    )
