"""The quick variant of `make chaos`: 30 objects, 5 SIGKILLs, faults on both emulators, every check; then the
receiver phase with 3 SIGKILLs of the receiver and a PostgreSQL restart under callback load."""

from __future__ import annotations

from pathlib import Path

import pytest
from chaos.run import ChaosConfig, chaos, problems, summary


@pytest.mark.timeout(420)
def test_quick_chaos_run_converges_with_no_leaks_and_no_secrets_in_logs(
    tmp_path: Path, kube_backend: str
) -> None:
    config = ChaosConfig(
        seed=11,
        objects=30,
        kills=5,
        converge_timeout=90,
        stall=30,
        fuzz=False,
        receiver_kills=3,
        workdir=tmp_path,
        results=None,
        verbose=False,
        kube=kube_backend,
    )
    results = chaos(config)
    print("\n" + summary(results))
    assert results["kills"] == 5
    assert results["receiver"]["kills"] == 3 and results["receiver"]["postgres_restarts"] == 1
    assert results["passed"], problems(results)
