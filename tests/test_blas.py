"""Processes this package owns use one BLAS thread (see :mod:`procurement.blas`).

Each check runs in a fresh interpreter, where numpy's OpenBLAS begins with a
thread per core (asked for four, at most the cores): on a machine of two or
more cores a check fails unless the process limited it to one. On one core
there is nothing to limit, and the checks are skipped.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

REPORT = (
    "from threadpoolctl import threadpool_info\n"
    "print(max(i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas'))\n"
)


def _blas_threads(setup: str) -> int:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "4"}
    done = subprocess.run(
        [sys.executable, "-c", "import numpy\n" + setup + "\n" + REPORT],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    return int(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def several_threads() -> int:
    """The baseline the checks move from: a fresh interpreter's BLAS threads."""
    found = _blas_threads("")
    if found < 2:
        pytest.skip("OpenBLAS starts one thread here (one core): nothing to limit")
    return found


@pytest.mark.parametrize(
    "setup",
    [
        # a worker process (coalitions, parallel party solves)
        "import os\nfrom procurement.optimiser import init_worker\ninit_worker(os.getpid())",
        # the hscn-procure command
        "from procurement.cli import main\nmain(['validate', 'catalog'])",
        # the Streamlit app, as it opens
        "from streamlit.testing.v1 import AppTest\nAppTest.from_file('app.py').run(timeout=60)",
    ],
    ids=["worker", "cli", "app"],
)
def test_owned_processes_use_one_blas_thread(setup: str, several_threads: int) -> None:
    assert _blas_threads(setup) == 1 < several_threads
