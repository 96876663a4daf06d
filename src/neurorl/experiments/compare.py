"""``neurorl compare``: several experiments on the same seeds -> one table and one figure."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from neurorl.analysis.plots import load_metrics, plot_comparison
from neurorl.errors import NeurorlError
from neurorl.experiments.checkpoint import atomic_write_text
from neurorl.experiments.registry import get_experiment
from neurorl.experiments.runner import create_run, open_run, resolve_config, train


def find_finished_run(out: Path, name: str, config: Any) -> Path | None:
    """A finished run of ``name`` under ``out`` with exactly this resolved config, if any."""
    for results in sorted((out / name).glob(f"*-seed{config.seed}*/results.json")):
        try:
            if open_run(results.parent).config == config:
                return results.parent
        except Exception:  # an unreadable folder is simply not reused
            continue
    return None


def overrides_for(name: str, names: list[str], overrides: dict[str, Any]) -> dict[str, Any]:
    """The overrides of experiment ``name``: plain keys apply to every experiment, keys written
    ``NAME:key`` only to experiment NAME (experiments rarely share all their keys)."""
    chosen = {}
    for key, value in overrides.items():
        target, sep, leaf = key.rpartition(":")
        if sep and target not in names:
            raise NeurorlError(f"--set {key}: '{target}' is not one of the compared experiments")
        if not sep or target == name:
            chosen[leaf] = value
    return chosen


def compare(
    names: list[str], seeds: int, overrides: dict[str, Any], out: Path, quiet: bool
) -> Path:
    """Train (or reuse) ``seeds`` runs per experiment; write comparison.md and comparison.png."""
    experiments = [get_experiment(name) for name in names]
    runs: dict[str, list[Path]] = {}
    for experiment in experiments:
        own = overrides_for(experiment.name, names, overrides)
        base = resolve_config(experiment, own)
        for seed in range(seeds):
            config = dataclasses.replace(base, seed=seed)
            path = find_finished_run(out, experiment.name, config)
            if path is None:
                seed_overrides = {**own, "seed": str(seed)}
                path = train(create_run(experiment.name, seed_overrides, out), quiet)
            runs.setdefault(experiment.name, []).append(path)
    folder = out / "compare" / f"{'+'.join(names)}-{time.strftime('%Y%m%d-%H%M%S')}"
    folder.mkdir(parents=True, exist_ok=True)
    lines = [
        f"# Comparison over seeds 0..{seeds - 1}",
        "",
        "| experiment | seeds | mean | std | median | per seed (test mean return) "
        "| env steps (mean) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, paths in runs.items():
        results = [json.loads((path / "results.json").read_text()) for path in paths]
        means = np.array([r["eval"]["mean_return"] for r in results])
        steps = np.mean([r["train"].get("env_steps", 0) for r in results])
        per_seed = ", ".join(f"{m:.1f}" for m in means)
        lines.append(
            f"| {name} | {len(paths)} | {means.mean():.1f} | {means.std():.1f} | "
            f"{np.median(means):.1f} | {per_seed} | {steps:.0f} |"
        )
    episodes = results[0]["eval"]["episodes"]
    env_seed = results[0]["eval"]["env_seed"]
    lines += [
        "",
        f"Test: {episodes} episodes from env seed {env_seed}, best checkpoint of each run.",
        "",
    ]
    lines += ["Runs:", *[f"- {path}" for paths in runs.values() for path in paths], ""]
    atomic_write_text(folder / "comparison.md", "\n".join(lines))
    curves = {name: [load_metrics(path) for path in paths] for name, paths in runs.items()}
    plot_comparison(curves, folder / "comparison.png")
    return folder
