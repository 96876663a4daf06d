"""Neuron-level RL (Aenugu 2020): coagent and reparameterised spiking actors against a
non-spiking actor-critic on the gridworld, CartPole-v1 and MountainCar-v0.

Every run is a real run folder (``neurorl train``'s runner: training, the test of the kept
checkpoint on 100 episodes from env seed 42, plots), one torch thread per run, ``--jobs``
runs at a time. Training stops and keeps its policy on the experiment's own signals only:
gridworld and MountainCar run their budget (500 and 100 episodes) and keep the best running
training mean; CartPole (2,000 episodes at most) validates the greedy policy every 80
episodes on 20 episodes from seeds of their own and stops once that mean reaches 495
(``train.checkpoint=last``: the validated policy is the one tested). The test is run once,
at the end. Targets: gridworld mean episode length within 10% of the optimal
policy's (value iteration, exact) after 500 episodes; CartPole test mean >= 475 on 4 of 5
seeds; MountainCar goal on >= 90% of the test episodes; episodes per second on CartPole
against the ANN actor-critic and the companion code's 2.2 (measured on CartPole-v0, cap 200).

    python benchmarks/coagent.py [--seeds 5] [--jobs 2] [--tasks gridworld cartpole mountaincar]

Figures go to BENCHMARKS.md, the learning curves and the units' plot of the first coagent
run of each task to docs/aenugu2020/.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from report import (
    ROOT,
    check_minimums,
    main_with_one_line_errors,
    provenance,
    write_section,
)

from neurorl.analysis.coagent_plots import plot_unit_learning
from neurorl.envs.gridworld import optimal_mean_episode_length

VARIANTS = ("coagent", "reparam", "ann-ac")
CARTPOLE_STOP = {
    "train.validate_every": "5",
    "train.validation_episodes": "20",
    "train.stop_score": "495",
    "train.checkpoint": "last",
}
OVERRIDES = {"gridworld": {}, "cartpole": CARTPOLE_STOP, "mountaincar": {}}
FIGURES = ROOT / "docs" / "aenugu2020"


def train_one(task: str, variant: str, seed: int, out: str) -> dict:
    """One run through the runner; its results.json with the run folder."""
    import torch

    torch.set_num_threads(1)
    from neurorl.experiments import runner

    name = f"{task}-{variant}"
    overrides = {**OVERRIDES[task], "seed": str(seed)}
    path = runner.train(runner.create_run(name, overrides, Path(out)), quiet=True)
    results = json.loads((path / "results.json").read_text())
    return {"task": task, "variant": variant, "seed": seed, "path": str(path), **results}


def seeds_line(values: list[float], digits: int = 1) -> str:
    return ", ".join(f"{v:.{digits}f}" for v in values)


def spread(values: list[float], digits: int = 1) -> str:
    return f"{np.mean(values):.{digits}f} +- {np.std(values):.{digits}f}"


def table(task: str, rows: list[dict], seeds: int) -> list[str]:
    lines = []
    if task == "gridworld":
        optimal = optimal_mean_episode_length()
        lines += [
            f"Gridworld (10x10, 80/5/5/10 moves; 500 training episodes): the optimal policy's "
            f"mean episode length is {optimal:.2f} steps (value iteration, exact); the target "
            f"is <= {1.1 * optimal:.2f}.",
            "",
            "| actor | test mean episode length, seeds 0.. | mean +- std | within 10% | "
            "episodes/s |",
            "|---|---|---|---|---|",
        ]
        for variant in present(rows):
            runs = [r for r in rows if r["variant"] == variant]
            lengths = [r["eval"]["mean_length"] for r in runs]
            passed = sum(length <= 1.1 * optimal for length in lengths)
            lines.append(
                f"| {variant} | {seeds_line(lengths)} | {spread(lengths)} | {passed} of "
                f"{len(runs)} | {speed(runs)} |"
            )
    elif task == "cartpole":
        lines += [
            "CartPole-v1 (cap 500), at most 2,000 training episodes, stopped on validation "
            "(module docstring); test: 100 episodes from env seed 42.",
            "",
            "| actor | test mean per seed | mean +- std | seeds >= 475 | training episodes "
            "per seed | episodes/s | env steps/s |",
            "|---|---|---|---|---|---|---|",
        ]
        for variant in present(rows):
            runs = [r for r in rows if r["variant"] == variant]
            means = [r["eval"]["mean_return"] for r in runs]
            episodes = ", ".join(str(r["train"]["episodes"]) for r in runs)
            steps = sum(r["train"]["env_steps"] for r in runs)
            wall = sum(r["train"]["wall_seconds"] for r in runs)
            lines.append(
                f"| {variant} | {seeds_line(means)} | {spread(means)} | "
                f"{sum(m >= 475 for m in means)} of {len(runs)} | {episodes} | {speed(runs)} | "
                f"{steps / wall:.0f} |"
            )
        lines += [
            "",
            "Anchor: the companion code's CartPole script ran at 2.2 episodes/s and 244 env "
            "steps/s on CartPole-v0 (cap 200), one seed, on this kind of machine "
            "(shared/design/papers/aenugu2020.md); neurorl's episodes are up to 500 steps, so "
            "env steps/s is the like-for-like rate.",
        ]
    else:
        lines += [
            "MountainCar-v0 (episode cap 5,000), 100 training episodes; test: 100 episodes "
            "from env seed 42.",
            "",
            "| actor | goal reached (fraction of test episodes) per seed | mean steps per "
            "test episode per seed | mean steps +- std | episodes/s |",
            "|---|---|---|---|---|",
        ]
        for variant in present(rows):
            runs = [r for r in rows if r["variant"] == variant]
            goals = [r["eval"]["terminated_fraction"] for r in runs]
            lengths = [r["eval"]["mean_length"] for r in runs]
            lines.append(
                f"| {variant} | {seeds_line(goals, 2)} | {seeds_line(lengths, 0)} | "
                f"{spread(lengths, 0)} | {speed(runs)} |"
            )
    return [*lines, ""]


def present(rows: list[dict]) -> list[str]:
    """The actors that ``rows`` ran, in the table's order."""
    return [v for v in VARIANTS if any(r["variant"] == v for r in rows)]


def speed(runs: list[dict]) -> str:
    """Training episodes per second of wall time (validation included), over the runs."""
    episodes = sum(r["train"]["episodes"] for r in runs)
    wall = sum(r["train"]["wall_seconds"] for r in runs)
    return f"{episodes / wall:.1f}"


def plot_curves(task: str, rows: list[dict]) -> Path:
    from neurorl.analysis.plots import load_metrics, plot_comparison

    curves = {
        f"{task}-{variant}": [
            load_metrics(Path(r["path"])) for r in rows if r["variant"] == variant
        ]
        for variant in present(rows)
    }
    FIGURES.mkdir(parents=True, exist_ok=True)
    variants = present(rows)
    suffix = "" if len(variants) == len(VARIANTS) else "_" + "_".join(variants)
    return plot_comparison(curves, FIGURES / f"{task}_curves{suffix}.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument(
        "--tasks", nargs="+", default=list(OVERRIDES), choices=list(OVERRIDES), metavar="TASK"
    )
    parser.add_argument(
        "--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS, metavar="ACTOR"
    )
    parser.add_argument("--out", type=Path, default=None, help="run folders (default: a temp dir)")
    args = parser.parse_args()
    check_minimums(parser, args, seeds=1, jobs=1)
    os.environ["OMP_NUM_THREADS"] = "1"
    out = str(args.out or tempfile.mkdtemp(prefix="coagent-bench-"))
    jobs = [(t, v, s, out) for t in args.tasks for v in args.variants for s in range(args.seeds)]
    with ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(train_one, *zip(*jobs, strict=True)))
    for task in args.tasks:
        rows = [r for r in results if r["task"] == task]
        lines = table(task, rows, args.seeds)
        figure = plot_curves(task, rows)
        coagent = [r for r in rows if r["variant"] == "coagent"]
        if coagent:
            plot_unit_learning(Path(coagent[0]["path"]) / "metrics.csv", FIGURES / f"{task}_units")
        body = [provenance(), f"- seeds: 0..{args.seeds - 1}; runs in {out}", "", *lines]
        body += [
            f"Learning curves (score: running mean of 100 training episodes): "
            f"`{figure.relative_to(ROOT)}`."
        ]
        title = f"Neuron-level RL (Aenugu 2020): {task}"
        if args.variants != list(VARIANTS):
            title += f" ({', '.join(args.variants)})"
        write_section(title, "\n".join(body))
        print("\n".join(lines))


if __name__ == "__main__":
    main_with_one_line_errors(main)
