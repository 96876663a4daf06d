"""The default experiment (`neurorl train`) end to end on several seeds: time and test return.

Each seed is a real run folder (training, evaluation on 100 test episodes from env seed 42,
plots, a NIR export where the network has one), timed from the call to its last file.
Figures go to BENCHMARKS.md. Bad flags: one line, exit code 2; a run that fails: its error
in one line, exit code 1.

    python benchmarks/default_experiment.py [--seeds 5] [--out DIR]
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np
from report import check_minimums, main_with_one_line_errors, provenance, write_section

from neurorl.cli import OneLineParser
from neurorl.cli import main as neurorl
from neurorl.errors import NeurorlError
from neurorl.experiments.registry import DEFAULT_EXPERIMENT


def run(seeds: int, out: Path) -> str:
    rows, walls, means = [], [], []
    for seed in range(seeds):
        started = time.perf_counter()
        command = ["train", "--quiet", "--seed", str(seed), "--out", str(out)]
        if neurorl(command) != 0:
            raise NeurorlError(f"neurorl {' '.join(command)} failed")
        wall = time.perf_counter() - started
        run_dir = max((out / DEFAULT_EXPERIMENT).glob(f"*-seed{seed}"))
        results = json.loads((run_dir / "results.json").read_text())
        test, train = results["eval"], results["train"]
        walls.append(wall)
        means.append(test["mean_return"])
        rows.append(
            f"| {seed} | {test['mean_return']:.1f} ± {test['std_return']:.1f} | "
            f"{train['episodes']} | {train['env_steps']} | {train['wall_seconds']:.1f} | "
            f"{wall:.1f} |"
        )
    return "\n".join(
        [
            provenance(),
            "",
            f"`neurorl train` ({DEFAULT_EXPERIMENT}), {seeds} seeds, test: 100 episodes from env "
            "seed 42 with the best checkpoint.",
            "",
            "| seed | test mean ± std | training episodes | env steps | training s | "
            "whole command s |",
            "|---|---|---|---|---|---|",
            *rows,
            "",
            f"Test mean over seeds {np.mean(means):.1f} (min {np.min(means):.1f}); whole command "
            f"{np.mean(walls):.1f} s on average (max {np.max(walls):.1f} s), against the 3-minute "
            "budget.",
        ]
    )


def main() -> None:
    parser = OneLineParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    check_minimums(parser, args, seeds=1)
    with tempfile.TemporaryDirectory() as scratch:
        body = run(args.seeds, args.out or Path(scratch))
    print(body)
    print(write_section("Default experiment", body))


if __name__ == "__main__":
    main_with_one_line_errors(main)
