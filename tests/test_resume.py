"""A run killed with SIGKILL mid-way and resumed ends exactly as an uninterrupted one."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
from conftest import run_neurorl

BUDGET = [
    "cartpole-snn-es",
    "--set",
    "train.generations=8",
    "--set",
    "es.population=8",
    "--set",
    "train.episodes_per_member=2",
    "--set",
    "eval.episodes=5",
    "--set",
    "train.stop_score=none",
    "--set",
    "train.snapshots=[2, 6]",  # one before the kill, one after the resume
    "--seed",
    "11",
]


def _without_wall(results: dict) -> dict:
    return {**results, "train": {k: v for k, v in results["train"].items() if k != "wall_seconds"}}


def test_resume_after_sigkill_matches_uninterrupted(tmp_path):
    reference = run_neurorl("train", "--quiet", "--out", tmp_path / "ref", *BUDGET)
    assert reference.returncode == 0, reference.stderr
    reference_dir = Path(reference.stdout.strip().splitlines()[-1])

    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "neurorl",
            "train",
            "--quiet",
            "--out",
            str(tmp_path / "killed"),
            *BUDGET,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 90
    latest = None
    while time.time() < deadline:
        found = list((tmp_path / "killed").glob("cartpole-snn-es/*/checkpoints/latest.pt"))
        if found:
            latest = found[0]
            try:
                if torch.load(latest, weights_only=True)["trainer"]["iteration"] >= 3:
                    break
            except Exception:  # being replaced right now
                pass
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert latest is not None
    run_dir = latest.parent.parent
    assert not (run_dir / "results.json").exists(), "the run finished before it was killed"
    iteration = torch.load(latest, weights_only=True)["trainer"]["iteration"]
    assert 3 <= iteration < 8

    resumed = run_neurorl("train", "--resume", run_dir, "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.strip().splitlines()[-1] == str(run_dir)
    assert (run_dir / "metrics.csv").read_text() == (reference_dir / "metrics.csv").read_text()
    ours, theirs = (json.loads((d / "results.json").read_text()) for d in (run_dir, reference_dir))
    assert _without_wall(ours) == _without_wall(theirs)
    assert set(ours["eval"]["mean_return_at_iteration"]) == {"2", "6"}
    for name in ("iteration-2.pt", "iteration-6.pt"):
        kept, reference_kept = (
            torch.load(d / "checkpoints" / name, weights_only=True)
            for d in (run_dir, reference_dir)
        )
        assert kept["iteration"] == int(name[10:-3])
        assert torch.equal(kept["params"], reference_kept["params"])
