"""Chaos and resilience tooling: a seeded run of the real operator against both emulators under faults.

`python -m chaos.run --seed N` (`make chaos`) is the full run; `tests/resilience` runs a quick variant.
"""
