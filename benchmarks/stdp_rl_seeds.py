"""STDP-RL over a batch of seeds: simulated time per wall second against one seed alone.

For each batch size K, ``STDPRLTrainer(config, seeds=0..K-1)`` (the paper's schedule and
network, compiled as ``neurorl train`` runs it) first warms up (compiles) for ``--warmup``
env steps, then plays ``--steps`` env steps (50-ms windows) of every member; the rate is
member-windows per wall second, and the paper-length figure (25,000 simulated s = 500,000
windows per seed) for 10 seeds follows from it. ``--processes N`` runs N such batches at
once (one process and torch thread each), as ``--jobs`` does for one-seed runs.

``--paper K`` instead trains seeds 0..K-1 for the schedule's whole length, as ``--processes``
batches of ``neurorl train NAME --seeds K/processes`` at once, and reports the wall time and
each seed's best 100-episode training average (the paper's measure) and test.

    python benchmarks/stdp_rl_seeds.py [--members 1 5 10] [--steps 400] [--warmup 60]
        [--processes 1] [--experiment cartpole-snn-stdprl-ea-em] [--paper K --out DIR]
"""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import numpy as np
from report import (
    check_experiments,
    check_minimums,
    main_with_one_line_errors,
    provenance,
    write_section,
)

from neurorl.cli import OneLineParser
from neurorl.errors import NeurorlError

PAPER_WINDOWS = 500_000  # 25,000 simulated s of 50-ms windows, the original's seed runs
SEEDS = 10


def measure(experiment: str, members: int, warmup: int, steps: int) -> dict:
    """In this process: member-windows per wall second of a batch of ``members`` seeds."""
    import torch

    from neurorl.core import configure_cpu
    from neurorl.experiments.registry import get_experiment
    from neurorl.experiments.stdp_rl import STDPRLTrainer

    configure_cpu()
    torch.set_num_threads(1)
    entry = get_experiment(experiment)
    trainer = STDPRLTrainer(entry.default_config(), seeds=tuple(range(members)))
    started = time.perf_counter()
    for _ in range(warmup):
        trainer.advance()
    compiled = time.perf_counter() - started
    episodes = 0
    started = time.perf_counter()
    for _ in range(steps):
        episodes += len(trainer.advance())
    wall = time.perf_counter() - started
    return {
        "members": members,
        "warmup_s": compiled,
        "wall_s": wall,
        "member_windows_per_s": members * steps / wall,
        "episodes": episodes,
    }


def train_batch(experiment: str, first: int, members: int, out: Path) -> list[Path]:
    """``neurorl train experiment --seeds members --seed first``: its run folders."""
    command = ["neurorl", "train", experiment, "--seeds", str(members), "--seed", str(first)]
    finished = subprocess.run(
        [*command, "--quiet", "--out", str(out)], capture_output=True, text=True
    )
    if finished.returncode:
        error = (finished.stderr.strip().splitlines() or ["no message"])[-1]
        raise NeurorlError(f"{' '.join(command)} failed: {error}")
    return [Path(line) for line in finished.stdout.strip().splitlines()]


def paper_length(experiment: str, seeds: int, processes: int, out: Path) -> None:
    """Seeds 0..seeds-1 for the whole schedule in ``processes`` batches at once."""
    size = -(-seeds // processes)
    firsts = list(range(0, seeds, size))
    started = time.perf_counter()
    with ThreadPoolExecutor(len(firsts)) as pool:
        batches = pool.map(
            lambda first: train_batch(experiment, first, min(size, seeds - first), out), firsts
        )
        runs = [run for batch in batches for run in batch]
    wall = time.perf_counter() - started
    results = [json.loads((run / "results.json").read_text()) for run in runs]
    best = np.array([result["train"]["best_score"] for result in results])
    test = np.array([result["eval"]["mean_return"] for result in results])
    lines = [
        provenance(),
        f"- experiment: `{experiment}`, seeds 0-{seeds - 1}, the whole schedule, as "
        f"{len(firsts)} batch(es) of {size} seeds at once (`neurorl train --seeds`); runs in "
        f"{out}",
        f"- wall time: {wall / 60:.1f} min",
        "",
        "| seed | best 100-episode training average | test mean (100 episodes, env seed 42) |",
        "|---|---|---|",
        *(
            f"| {result['seed']} | {b:.1f} | {t:.1f} |"
            for result, b, t in zip(results, best, test, strict=True)
        ),
        f"| mean +- sd | {best.mean():.1f} +- {best.std():.1f} | {test.mean():.1f} +- "
        f"{test.std():.1f} |",
    ]
    write_section("Haşegan 2022 network: STDP-RL, seeds of the paper's length", "\n".join(lines))


def main() -> None:
    parser = OneLineParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, nargs="+", default=[1, 5, 10])
    parser.add_argument("--steps", type=int, default=400, help="timed env steps per batch")
    parser.add_argument("--warmup", type=int, default=60, help="env steps before timing")
    parser.add_argument("--processes", type=int, default=1, help="batches run at once")
    parser.add_argument("--experiment", default="cartpole-snn-stdprl-ea-em")
    parser.add_argument("--paper", type=int, help="train seeds 0..K-1 of the paper's length")
    parser.add_argument("--out", type=Path, default=Path("runs/benchmarks/stdp_rl_seeds"))
    args = parser.parse_args()
    check_minimums(parser, args, steps=1, warmup=1, processes=1, members=1, paper=1)
    check_experiments(parser, [args.experiment])
    if args.paper:
        paper_length(args.experiment, args.paper, args.processes, args.out)
        return

    rows = []
    for members in args.members:
        spawn = multiprocessing.get_context("spawn")  # a fresh process per batch
        with ProcessPoolExecutor(args.processes, mp_context=spawn) as pool:
            jobs = [
                pool.submit(measure, args.experiment, members, args.warmup, args.steps)
                for _ in range(args.processes)
            ]
            results = [job.result() for job in jobs]
        rate = sum(result["member_windows_per_s"] for result in results)
        rows.append((members, results, rate))
        print(f"{members} members x {args.processes} processes: {rate:.0f} member-windows/s")

    alone = next((rate for members, _, rate in rows if members == 1), None)
    lines = [
        provenance(),
        f"- experiment: `{args.experiment}` (paper network and schedule, compiled), "
        f"{args.steps} timed env steps after {args.warmup} of warm-up, "
        f"{args.processes} process(es) at once",
        "",
        "| seeds per batch | warm-up s (compile) | member-windows per wall s | simulated s per "
        "wall s | vs one seed alone | 10 seeds x 25,000 simulated s, projected |",
        "|---|---|---|---|---|---|",
    ]
    for members, results, rate in rows:
        ratio = f"{rate / alone:.2f}x" if alone else "-"
        minutes = SEEDS * PAPER_WINDOWS / rate / 60
        warmup = max(result["warmup_s"] for result in results)
        lines.append(
            f"| {members} | {warmup:.0f} | {rate:.0f} | {rate * 0.05:.1f} | {ratio} | "
            f"{minutes:.0f} min |"
        )
    lines += [
        "",
        "The projection is the measured rate applied to 10 seeds of the paper's length "
        "(500,000 windows each); it is not a run of that length.",
    ]
    write_section("Haşegan 2022 network: STDP-RL over a batch of seeds", "\n".join(lines))


if __name__ == "__main__":
    main_with_one_line_errors(main)
