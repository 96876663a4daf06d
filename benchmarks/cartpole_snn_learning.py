"""Learning figures of the Haşegan et al. 2022 network on the paper's protocol: evolution's
test and the episodes it used, and STDP-RL's best training averages, against the paper's.

For each seed, ``neurorl train cartpole-snn-evol`` runs to its own stop (its centre returning
500 on its scoring and validation episodes, from seeds of their own) or its generation
budget; the kept policy is then tested once on the paper's protocol (100 episodes from env
seed 42). The paper's 80,000 episodes (1600 iterations x 10 members x 5 episodes) per seed
are its whole budget, its test after them: the table gives ours as a share of it.
``--stdprl-seeds`` runs STDP-RL of the paper's length (25,000 simulated s, the original's
runs): the paper's headline rule (EA->EM) first, the variant (ES->EA too) beside it.

    python benchmarks/cartpole_snn_learning.py [--seeds 3] [--stdprl-seeds 0] [--set k=v ...]
        [--evolution cartpole-snn-evol-ars] [--stdprl NAME ...] [--jobs 1]

``--jobs N`` trains N seeds at a time (one process and torch thread each); the table is
rewritten in BENCHMARKS.md as each seed's row comes in.

``--set`` applies to both experiments' runs; run them apart (``--seeds 0 --stdprl-seeds N``)
to set one's keys only. Bad flags, experiment names or keys: one line, exit code 2, before
anything is trained; a ``neurorl train`` that fails: its error in one line, exit code 1.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from report import (
    check_experiments,
    check_minimums,
    main_with_one_line_errors,
    provenance,
    write_section,
)

from neurorl.cli import OneLineParser
from neurorl.errors import NeurorlError

PAPER_EPISODES = 80_000
TARGET = 475.0
EVOLUTION_SETS = ["train.stop_score=500"]  # a run stops once its centre returns 500


def train(name: str, seed: int, overrides: list[str], out: Path) -> tuple[dict, float]:
    """One whole ``neurorl train`` command: (results.json, wall seconds)."""
    sets = [arg for override in overrides for arg in ("--set", override)]
    command = ["neurorl", "train", name, "--seed", str(seed), "--quiet", "--out", str(out), *sets]
    started = time.perf_counter()
    finished = subprocess.run(command, capture_output=True, text=True)
    if finished.returncode:
        error = (finished.stderr.strip().splitlines() or ["no message"])[-1]
        raise NeurorlError(f"{' '.join(command)} failed: {error}")
    wall = time.perf_counter() - started
    run_dir = Path(finished.stdout.strip().splitlines()[-1])
    return json.loads((run_dir / "results.json").read_text()), wall


def main() -> None:
    parser = OneLineParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="evolution seeds 0..N-1")
    parser.add_argument(
        "--evolution", default="cartpole-snn-evol", help="the evolution experiment to run"
    )
    parser.add_argument("--stdprl-seeds", type=int, default=0, help="STDP-RL seeds 0..N-1")
    parser.add_argument(
        "--stdprl",
        nargs="+",
        default=["cartpole-snn-stdprl-ea-em", "cartpole-snn-stdprl"],
        help="the STDP-RL experiments to run, in this order (the headline rule first)",
    )
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--out", type=Path, default=Path("runs/benchmarks"))
    parser.add_argument("--jobs", type=int, default=1, help="seeds trained at a time")
    args = parser.parse_args()
    check_minimums(parser, args, seeds=0, stdprl_seeds=0, jobs=1)
    if args.seeds:
        check_experiments(parser, [args.evolution], [*EVOLUTION_SETS, *args.overrides])
    if args.stdprl_seeds:
        check_experiments(parser, args.stdprl, args.overrides)
    if args.seeds:
        evolution(args.evolution, args.seeds, args.overrides, args.out, args.jobs)
    for name in args.stdprl if args.stdprl_seeds else []:
        stdp_rl(name, args.stdprl_seeds, args.overrides, args.out, args.jobs)


def train_seeds(
    name: str, seeds: int, overrides: list[str], out: Path, jobs: int
) -> Iterator[tuple[int, dict, float]]:
    """``(seed, results.json, wall s)`` of seeds 0..seeds-1, in order, ``jobs`` at a time."""
    with ThreadPoolExecutor(jobs) as pool:
        runs = pool.map(lambda seed: train(name, seed, overrides, out), range(seeds))
        for seed, (results, wall) in enumerate(runs):
            yield seed, results, wall


def evolution(name: str, seeds: int, extra: list[str], out: Path, jobs: int) -> None:
    """One section per experiment and ``--set`` list (a shorter budget is another figure)."""
    overrides = [*EVOLUTION_SETS, *extra]
    lines = [
        provenance(),
        "",
        f"`neurorl train {name} --set {' --set '.join(overrides)}` per seed, {jobs} at a "
        f"time, to its own stop; then one test: 100 episodes from env seed 42 with the kept "
        f"policy. The paper's {PAPER_EPISODES:,} episodes are its whole budget.",
        "",
        "| seed | test mean ± std | training episodes | share of the paper's budget | command s |",
        "|---|---|---|---|---|",
    ]
    reached = []
    title = f"Haşegan 2022 network: evolution, {' '.join([name, *extra])}"
    for seed, results, wall in train_seeds(name, seeds, overrides, out, jobs):
        test, episodes = results["eval"], results["train"]["episodes"]
        reached.append(test["mean_return"] >= TARGET)
        lines.append(
            f"| {seed} | {test['mean_return']:.1f} ± {test['std_return']:.1f} | {episodes} | "
            f"{episodes / PAPER_EPISODES:.0%} | {wall:.0f} |"
        )
        summary = f"Test mean >= {TARGET:.0f} on {sum(reached)} of {len(reached)} seeds."
        report(title, [*lines, "", summary])


def stdp_rl(name: str, seeds: int, overrides: list[str], out: Path, jobs: int) -> None:
    sets = "".join(f" --set {override}" for override in overrides)
    lines = [
        provenance(),
        "",
        f"`neurorl train {name}{sets}` per seed (the original's 25,000 simulated s), "
        f"{jobs} at a time; test: 100 episodes from env seed 42 with the weights of the best "
        "training average.",
        "",
        "| seed | test mean | best 100-episode training average | training episodes | "
        "whole command s |",
        "|---|---|---|---|---|",
    ]
    best = []
    for seed, results, wall in train_seeds(name, seeds, overrides, out, jobs):
        best.append(results["train"]["best_score"])
        lines.append(
            f"| {seed} | {results['eval']['mean_return']:.1f} | {best[-1]:.1f} | "
            f"{results['train']['episodes']} | {wall:.0f} |"
        )
        summary = (
            f"Best 100-episode training average over {len(best)} seeds: mean "
            f"{sum(best) / len(best):.1f}, best {max(best):.1f} (the paper, 10 seeds: 115.7, 157)."
        )
        report(f"Haşegan 2022 network: STDP-RL, {name}", [*lines, "", summary])


def report(title: str, lines: list[str]) -> None:
    body = "\n".join(lines)
    print(body)
    print(write_section(title, body), file=sys.stderr)


if __name__ == "__main__":
    main_with_one_line_errors(main)
