"""Neuron-level RL (Aenugu 2020): coagent and reparameterised spiking actors against a
non-spiking actor-critic on the gridworld, CartPole-v1 and MountainCar-v0.

Every run is a real run folder (``neurorl train``'s runner: training, the test of the kept
checkpoint on 100 episodes from env seed 42, plots), one torch thread per run, ``--jobs``
runs at a time. Training stops and keeps its policy on the experiment's own signals only:
gridworld and MountainCar run their budget (500 and 100 episodes) and keep the best running
training mean (gridworld) or the policy with the best mean return on 20 validation episodes,
validated after every iteration of 4 episodes (MountainCar); CartPole (2,000 episodes at
most) validates the greedy policy every 80 episodes on 20 episodes and stops once that mean
reaches 495 (``train.checkpoint=last``: the validated policy is the one tested). Validation
episodes start from seeds of their own. The test is run once, at the end. Targets: gridworld
mean episode length within 10% of the optimal policy's (value iteration, exact) after 500
episodes; CartPole test mean >= 475 on 4 of 5 seeds; MountainCar goal on >= 90% of the test
episodes; episodes per second on CartPole against the ANN actor-critic and the companion
code's 2.2 (measured on CartPole-v0, cap 200); 10 seeds of cartpole-coagent within 10
minutes on 2 cores.

    python benchmarks/coagent.py [--seeds 5] [--jobs 2] [--tasks gridworld cartpole mountaincar]
        [--variants coagent reparam ann-ac] [--compare | --options [OPTION ...]] [--out DIR]

``--compare`` adds the task's other agents (CartPole: the surrogate-gradient spiking DQN,
``cartpole-snn-dqn``, at its own defaults) and puts every run through ``neurorl compare``
(which reuses them): its table and figure of learning curves go into the section.
``--options`` runs the options not in the experiments' defaults instead (``lif``: LIF
coagent units, ``reinforce``: pure REINFORCE for the modules that did not choose,
``neural-critic``, ``straight-through`` relaxed spikes; all, with ``defaults``, when none is
named), at the same budgets.

A run whose folder under ``--out`` has exactly the run's config is reused, not trained
again. Figures go to BENCHMARKS.md (with the wall and CPU time of the runs trained), the
learning curves and the units' plot of the first coagent run of each task to
docs/aenugu2020/.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
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
# the task's agents from elsewhere in neurorl in the comparison, at their own defaults
OTHERS = {"cartpole": ("snn-dqn",)}
# --options NAME: (label, experiment variant, overrides), the defaults among them
OPTIONS = {
    "defaults": [("coagent (defaults)", "coagent", {}), ("reparam (defaults)", "reparam", {})],
    "lif": [
        (
            "coagent, LIF units (actor.unit=lif, a tenth of the Bernoulli unit's step)",
            "coagent",
            {"actor.unit": "lif"},
        )
    ],
    "reinforce": [
        (
            "coagent, pure REINFORCE (actor.unchosen=reinforce)",
            "coagent",
            {"actor.unchosen": "reinforce"},
        )
    ],
    "neural-critic": [
        (
            "coagent, neural critic (critic.kind=neural, Adam 1e-3)",
            "coagent",
            {"critic.kind": "neural", "critic.learning_rate": "1e-3"},
        )
    ],
    "straight-through": [
        (
            "reparam, straight-through (actor.straight_through=true)",
            "reparam",
            {"actor.straight_through": "true"},
        )
    ],
}
# The LIF unit's step size against the task's Bernoulli one: its log-probability sums over
# its 5 time steps and scales with 1 / escape temperature (CartPole, validation seed 100,
# 960 episodes: 3e-4 collapsed onto one action, 3e-5 reached 500, 1e-5 was still at 52)
LIF_STEP = 0.1
FIGURES = ROOT / "docs" / "aenugu2020"
# what each task's experiments score (the learning curves' y axis)
SCORES = {
    "gridworld": "running mean of the discounted return of 100 training episodes",
    "cartpole": "running mean of the return of 100 training episodes",
    "mountaincar": "mean return of the 20 validation episodes after each iteration",
}


def overrides_of(task: str, variant: str) -> dict[str, str]:
    """The benchmark's overrides of ``task-variant`` (none for the other agents)."""
    return OVERRIDES[task] if variant in VARIANTS else {}


def option_overrides(task: str, extra: dict[str, str]) -> dict[str, str]:
    """An option's overrides on ``task``; the LIF unit's step is ``LIF_STEP`` times the
    task's Bernoulli one."""
    if extra.get("actor.unit") != "lif":
        return extra
    from neurorl.experiments.coagent import TASKS

    step = TASKS[task]["actor"]["learning_rate"] * LIF_STEP
    return {**extra, "actor.learning_rate": f"{step:g}"}


def train_one(task: str, variant: str, label: str, extra: dict, seed: int, out: str) -> dict:
    """One run of ``task-variant`` (with ``extra`` overrides) through the runner, or the
    finished run of exactly its config under ``out``; its results.json with the run folder
    and the CPU seconds it took (None if reused), under ``label``."""
    import torch

    torch.set_num_threads(1)
    from neurorl.experiments import runner
    from neurorl.experiments.compare import find_finished_run
    from neurorl.experiments.registry import get_experiment

    name = f"{task}-{variant}"
    overrides = {**overrides_of(task, variant), **extra, "seed": str(seed)}
    config = runner.resolve_config(get_experiment(name), overrides)
    path, cpu = find_finished_run(Path(out), name, config), None
    if path is None:
        cpu = time.process_time()
        path = runner.train(runner.create_run(name, overrides, Path(out)), quiet=True)
        cpu = time.process_time() - cpu
    results = json.loads((path / "results.json").read_text())
    row = {"task": task, "variant": label, "seed": seed, "path": str(path), **results}
    return {**row, "cpu_seconds": cpu}


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
            "episodes/s | env steps/s |",
            "|---|---|---|---|---|---|",
        ]
        for variant in present(rows):
            runs = [r for r in rows if r["variant"] == variant]
            lengths = [r["eval"]["mean_length"] for r in runs]
            passed = sum(length <= 1.1 * optimal for length in lengths)
            lines.append(
                f"| {variant} | {seeds_line(lengths)} | {spread(lengths)} | {passed} of "
                f"{len(runs)} | {speed(runs)} | {step_rate(runs)} |"
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
            lines.append(
                f"| {variant} | {seeds_line(means)} | {spread(means)} | "
                f"{sum(m >= 475 for m in means)} of {len(runs)} | {episodes} | {speed(runs)} | "
                f"{step_rate(runs)} |"
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
            "MountainCar-v0 (episode cap 5,000), 100 training episodes (25 iterations of 4), "
            "the best validated policy kept; test: 100 episodes from env seed 42; target: "
            "goal on >= 90% of them.",
            "",
            "| actor | goal reached (fraction of test episodes) per seed | seeds >= 0.9 | mean "
            "steps per test episode per seed | mean steps +- std | iteration kept per seed | "
            "episodes/s |",
            "|---|---|---|---|---|---|---|",
        ]
        for variant in present(rows):
            runs = [r for r in rows if r["variant"] == variant]
            goals = [r["eval"]["terminated_fraction"] for r in runs]
            lengths = [r["eval"]["mean_length"] for r in runs]
            kept = ", ".join(str(r["eval"]["checkpoint_iteration"]) for r in runs)
            lines.append(
                f"| {variant} | {seeds_line(goals, 2)} | {sum(g >= 0.9 for g in goals)} of "
                f"{len(runs)} | {seeds_line(lengths, 0)} | {spread(lengths, 0)} | {kept} | "
                f"{speed(runs)} |"
            )
    return [*lines, ""]


def present(rows: list[dict]) -> list[str]:
    """The actors that ``rows`` ran, in their order."""
    return list(dict.fromkeys(r["variant"] for r in rows))


def speed(runs: list[dict]) -> str:
    """Training episodes per second of wall time (validation included), over the runs."""
    episodes = sum(r["train"]["episodes"] for r in runs)
    wall = sum(r["train"]["wall_seconds"] for r in runs)
    return f"{episodes / wall:.1f}"


def step_rate(runs: list[dict]) -> str:
    """Training env steps per second of wall time (validation included), over the runs."""
    steps = sum(r["train"]["env_steps"] for r in runs)
    wall = sum(r["train"]["wall_seconds"] for r in runs)
    return f"{steps / wall:.0f}"


def plot_curves(task: str, rows: list[dict], name: str) -> Path:
    from neurorl.analysis.plots import load_metrics, plot_comparison

    curves = {
        variant: [load_metrics(Path(r["path"])) for r in rows if r["variant"] == variant]
        for variant in present(rows)
    }
    FIGURES.mkdir(parents=True, exist_ok=True)
    return plot_comparison(curves, FIGURES / f"{task}_{name}.png")


def compare_runs(task: str, variants: list[str], seeds: int, out: str) -> list[str]:
    """``neurorl compare`` over the task's runs (reused from ``out``): its table, its
    figure (copied to docs/aenugu2020/) and the command that gives the same."""
    from neurorl.experiments.compare import compare

    names = [f"{task}-{variant}" for variant in variants]
    overrides = {
        f"{name}:{key}": value
        for name, variant in zip(names, variants, strict=True)
        for key, value in overrides_of(task, variant).items()
    }
    folder = compare(names, seeds, overrides, Path(out), quiet=True)
    figure = FIGURES / f"{task}_comparison.png"
    shutil.copyfile(folder / "comparison.png", figure)
    table = (folder / "comparison.md").read_text().split("Runs:")[0].splitlines()[2:]
    sets = [f"--set {key}={value}" for key, value in overrides.items()]
    command = " ".join(["neurorl compare", *names, f"--seeds {seeds} --out {out}", *sets])
    return [
        f"`{command}`",
        "(it reused the runs above):",
        "",
        *table,
        f"Learning curves of the comparison (each experiment's own score; mean and min-max "
        f"over seeds): `{figure.relative_to(ROOT)}`.",
        "",
    ]


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
    modes = parser.add_mutually_exclusive_group()
    modes.add_argument("--compare", action="store_true", help="add the other agents, compare")
    modes.add_argument(
        "--options",
        nargs="*",
        choices=list(OPTIONS),
        default=None,
        metavar="OPTION",
        help=f"the non-default options instead of the variants (default: all of {list(OPTIONS)})",
    )
    parser.add_argument("--out", type=Path, default=None, help="run folders (default: a temp dir)")
    args = parser.parse_args()
    check_minimums(parser, args, seeds=1, jobs=1)
    os.environ["OMP_NUM_THREADS"] = "1"
    out = str(args.out or tempfile.mkdtemp(prefix="coagent-bench-"))
    variants: dict[str, dict[str, list]] = {}  # task -> label -> (variant, overrides)
    for task in args.tasks:
        if args.options is not None:
            chosen = [OPTIONS[name] for name in args.options or OPTIONS]
            variants[task] = {
                label: [v, option_overrides(task, extra)]
                for runs in chosen
                for label, v, extra in runs
            }
            continue
        others = OTHERS.get(task, ()) if args.compare else ()
        variants[task] = {v: [v, {}] for v in [*args.variants, *others]}
    jobs = [
        (task, variant, label, extra, seed, out)
        for task, labels in variants.items()
        for label, (variant, extra) in labels.items()
        for seed in range(args.seeds)
    ]
    load_before, started = os.getloadavg()[0], time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(train_one, *zip(*jobs, strict=True)))
    seconds, load_after = time.perf_counter() - started, os.getloadavg()[0]
    trained = [r["cpu_seconds"] for r in results if r["cpu_seconds"] is not None]
    reused = [r["train"]["wall_seconds"] for r in results if r["cpu_seconds"] is None]
    wall = f"- {len(reused)} finished runs reused from `--out`"
    if reused:
        wall += f" (their training's own wall time: {sum(reused):.0f} s in all)"
    if trained:
        wall += (
            f"; {len(trained)} trained, {args.jobs} at a time, in {seconds:.0f} s of wall time "
            f"(load average {load_before:.2f} at the start, {load_after:.2f} at the end); "
            f"their CPU time {sum(trained):.0f} "
            f"s in all, {np.mean(trained):.0f} s per run (training, test and plots)"
        )
    for task in args.tasks:
        rows = [r for r in results if r["task"] == task]
        lines = table(task, rows, args.seeds)
        title = f"Neuron-level RL (Aenugu 2020): {task}"
        if args.options is not None:
            names = args.options or list(OPTIONS)
            title += f" (options: {', '.join(names)})"
            figure = plot_curves(task, rows, "options_" + "_".join(names))
        else:
            if args.variants != list(VARIANTS):
                title += f" ({', '.join(args.variants)})"
            suffix = "" if args.variants == list(VARIANTS) else "_" + "_".join(args.variants)
            figure = plot_curves(task, rows, f"curves{suffix}")
            coagent = [r for r in rows if r["variant"] == "coagent"]
            if coagent:
                units = FIGURES / f"{task}_units"
                plot_unit_learning(Path(coagent[0]["path"]) / "metrics.csv", units)
        body = [provenance(), wall, f"- seeds: 0..{args.seeds - 1}; runs in {out}", "", *lines]
        body += [
            f"Learning curves (score: {SCORES[task]}; mean and min-max over seeds): "
            f"`{figure.relative_to(ROOT)}`.",
            "",
        ]
        if args.compare:
            body += compare_runs(
                task, [variant for variant, _ in variants[task].values()], args.seeds, out
            )
        write_section(title, "\n".join(body))
        print("\n".join(lines))


if __name__ == "__main__":
    main_with_one_line_errors(main)
