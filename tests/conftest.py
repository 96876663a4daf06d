import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from neurorl.cli import main

# One thread per test process (and its subprocesses): the networks under test are small, and
# on a busy 2-core machine a second thread that waits for a core stalls every small operation
# (seen here: 50x slower).
os.environ["OMP_NUM_THREADS"] = "1"
torch.set_num_threads(1)

# The small spiking-MLP experiment on a tiny budget: a few seconds per run.
TINY = "cartpole-snn-es"
SMALL = [
    "--set",
    "train.generations=3",
    "--set",
    "es.population=8",
    "--set",
    "train.episodes_per_member=2",
    "--set",
    "eval.episodes=5",
]


@pytest.fixture
def cli(capsys):
    """Run ``neurorl ARGS`` in-process: (exit code, stdout lines, stderr)."""

    def run(*args: str) -> tuple[int, list[str], str]:
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return code, captured.out.strip().splitlines(), captured.err

    return run


def run_neurorl(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """The real ``neurorl`` command in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "neurorl", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def small_run(tmp_path_factory) -> Path:
    """One finished small run of the small spiking-MLP experiment, shared by read-only tests."""
    out = tmp_path_factory.mktemp("runs")
    assert main(["train", TINY, "--quiet", "--out", str(out), "--seed", "3", *SMALL]) == 0
    return next((out / "cartpole-snn-es").iterdir())
