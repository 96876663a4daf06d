"""``neurorl sweep``: one experiment over a grid of config values -> table, CSV and heat maps.

The example is the robustness study of Akl et al. 2023 (``shared/design/papers/akl2023.md``):
the paper reports that a spiking DQN's return on CartPole is sensitive to its neurons'
current decay, voltage decay and threshold, and less so with a longer simulation time T,
two-neuron input encoding or per-neuron randomised membrane parameters. Testing the first
claim is one sweep::

    neurorl sweep cartpole-snn-dqn --grid net.current_decay=0.2,0.5,0.8 \\
        --grid net.voltage_decay=0.2,0.5,0.8 --grid net.threshold=0.2,0.5,1.0 --seeds 3

and each claimed remedy is the same sweep with one more setting, e.g. ``--set net.steps=8``,
``--set net.encoding=two_neuron`` or ``--set net.randomise=normal`` (or that key as a
fourth grid, ``--grid net.randomise=none,normal``). Every grid point is trained on seeds
0..K-1 (a finished run with the identical resolved config is reused, as in
``neurorl compare``). ``OUT/sweep/NAME-<timestamp>/`` gets
``sweep.md`` and ``sweep.csv`` (test mean return per point: mean and std over seeds and each
seed's value), ``heatmap_<keyA>_<keyB>.png`` for every pair of grid keys (mean over seeds and
the other keys) and, for a single key, ``sensitivity_<key>.png``.
"""

from __future__ import annotations

import csv
import io
import itertools
import time
from pathlib import Path
from typing import Any

import numpy as np

from neurorl.analysis.sweep_plots import plot_heatmap, plot_sensitivity
from neurorl.distributed.ray_runs import IN_PROCESS, Cluster, RunRequest
from neurorl.errors import ConfigError, NeurorlError
from neurorl.experiments.checkpoint import atomic_write_text
from neurorl.experiments.compare import finished_runs, returns_by_seed
from neurorl.experiments.registry import get_experiment
from neurorl.experiments.runner import resolve_config


def parse_grid_options(pairs: list[str]) -> dict[str, list[str]]:
    """``["a.b=1,2", ...] -> {"a.b": ["1", "2"]}``; commas inside brackets (YAML lists such as
    ``net.hidden=[32,32],[64,64]``) do not split values."""
    grids: dict[str, list[str]] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        values = _split_values(raw)
        if not sep or not key or not all(values):
            raise ConfigError(f"--grid expects KEY=V1,V2,..., got {pair!r}")
        if key in grids:
            raise ConfigError(f"--grid {key} is given twice; list all its values in one --grid")
        if len(set(values)) < len(values):
            raise ConfigError(f"--grid {key}: a value is listed twice in {raw!r}")
        grids[key] = values
    return grids


def _split_values(raw: str) -> list[str]:
    values, depth, start = [], 0, 0
    for i, char in enumerate(raw):
        depth += (char in "[({") - (char in "])}")
        if char == "," and depth == 0:
            values.append(raw[start:i].strip())
            start = i + 1
    return [*values, raw[start:].strip()]


def point_label(point: dict[str, str]) -> str:
    return ", ".join(f"{key}={value}" for key, value in point.items())


def resolve_points(
    name: str, grids: dict[str, list[str]], overrides: dict[str, Any]
) -> list[tuple[dict[str, str], Any]]:
    """Every grid point (cartesian product, first key slowest) with its resolved config; a bad
    key, value or combination fails here, before anything is trained."""
    if not grids:
        raise NeurorlError("sweep needs at least one --grid KEY=V1,V2,...")
    if "seed" in grids:
        raise NeurorlError("--grid seed: the seeds are 0..K-1, set K with --seeds")
    both = [key for key in grids if key in overrides]
    if both:
        raise NeurorlError(f"--grid {both[0]} is also given with --set; give it in one place")
    experiment = get_experiment(name)
    resolve_config(experiment, overrides)  # a bad --set fails on its own, not per grid point
    points = []
    for values in itertools.product(*grids.values()):
        point = dict(zip(grids, values, strict=True))
        try:
            points.append((point, resolve_config(experiment, {**overrides, **point})))
        except ConfigError as error:
            raise ConfigError(f"--grid point {point_label(point)}: {error}") from None
    return points


def sweep(
    name: str,
    grids: dict[str, list[str]],
    seeds: int,
    overrides: dict[str, Any],
    out: Path,
    quiet: bool,
    cluster: Cluster = IN_PROCESS,
) -> Path:
    """Train (or reuse) ``seeds`` runs per grid point, in this process or on ``cluster``;
    write sweep.md, sweep.csv and plots."""
    if seeds < 1:
        raise NeurorlError(f"--seeds must be >= 1, got {seeds}")
    points = resolve_points(name, grids, overrides)
    requests = [
        RunRequest(
            name,
            {**overrides, **point, "seed": str(seed)},
            f"[{index}/{len(points)}] {point_label(point)} seed {seed}",
        )
        for index, (point, _) in enumerate(points, 1)
        for seed in range(seeds)
    ]
    paths = finished_runs(requests, out, quiet, cluster)
    runs = [paths[i * seeds : (i + 1) * seeds] for i in range(len(points))]
    folder = _new_folder(out / "sweep", name)
    means = np.stack([returns_by_seed(paths)["means"] for paths in runs])  # (points, seeds)
    _write_tables(folder, name, points, means, runs, overrides)
    write_plots(folder, grids, means)
    return folder


def _new_folder(parent: Path, name: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    folder, suffix = parent / f"{name}-{stamp}", 1
    while folder.exists():
        suffix += 1
        folder = parent / f"{name}-{stamp}-{suffix}"
    folder.mkdir(parents=True)
    return folder


def _write_tables(
    folder: Path,
    name: str,
    points: list[tuple[dict[str, str], Any]],
    means: np.ndarray,
    runs: list[list[Path]],
    overrides: dict[str, Any],
) -> None:
    keys = list(points[0][0])
    seeds = means.shape[1]
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow([*keys, "mean_return", "std_return", *(f"seed{s}" for s in range(seeds))])
    lines = [
        f"# Sweep of {name} over seeds 0..{seeds - 1}",
        "",
        f"| {' | '.join(keys)} | mean | std | per seed (test mean return) |",
        "|" + "---|" * (len(keys) + 3),
    ]
    for (point, _), row in zip(points, means, strict=True):
        numbers = [row.mean(), row.std(), *row]
        writer.writerow([*point.values(), *(f"{x:.3f}" for x in numbers)])
        per_seed = ", ".join(f"{m:.1f}" for m in row)
        cells = " | ".join(point.values())
        lines.append(f"| {cells} | {row.mean():.1f} | {row.std():.1f} | {per_seed} |")
    lines += ["", *_marginals(points, means)]
    eval_config = points[0][1].eval
    fixed = ", ".join(f"{key}={value}" for key, value in overrides.items()) or "none"
    lines += [
        "",
        f"Test: {eval_config.episodes} episodes from env seed {eval_config.env_seed}, best "
        "checkpoint of each run; mean and std over seeds of each run's test mean return. "
        f"Set at every point: {fixed}.",
        "",
        "Runs:",
    ]
    for (point, _), paths in zip(points, runs, strict=True):
        lines += [f"- {point_label(point)}:", *(f"  - {path}" for path in paths)]
    atomic_write_text(folder / "sweep.md", "\n".join([*lines, ""]))
    atomic_write_text(folder / "sweep.csv", text.getvalue())


def _marginals(points: list[tuple[dict[str, str], Any]], means: np.ndarray) -> list[str]:
    """Per key and value: the mean, std, min and max over the other keys' points (and seeds),
    i.e. how sensitive the result is to the other keys at that value."""
    lines = [
        "| key | value | mean over the other keys | std | min | max |",
        "|---|---|---|---|---|---|",
    ]
    point_means = means.mean(1)
    for key in points[0][0]:
        for value in dict.fromkeys(point[key] for point, _ in points):
            chosen = point_means[[point[key] == value for point, _ in points]]
            lines.append(
                f"| {key} | {value} | {chosen.mean():.1f} | {chosen.std():.1f} | "
                f"{chosen.min():.1f} | {chosen.max():.1f} |"
            )
    return lines


def write_plots(
    folder: Path, grids: dict[str, list[str]], means: np.ndarray, prefix: str = ""
) -> None:
    """Heat maps of every pair of keys; for a single key, its sensitivity plot; file names
    start with ``prefix``. ``means``: (points in ``grids``' cartesian order, seeds)."""
    keys = list(grids)
    cube = means.reshape(*(len(values) for values in grids.values()), means.shape[1])
    if len(keys) == 1:
        plot_sensitivity(
            keys[0], grids[keys[0]], cube, folder / f"{prefix}sensitivity_{keys[0]}.png"
        )
    for a, b in itertools.combinations(range(len(keys)), 2):
        others = tuple(axis for axis in range(cube.ndim) if axis not in (a, b))
        plot_heatmap(
            cube.mean(axis=others),
            (keys[a], grids[keys[a]]),
            (keys[b], grids[keys[b]]),
            folder / f"{prefix}heatmap_{keys[a]}_{keys[b]}.png",
            seeds=means.shape[1],
            averaged=[keys[axis] for axis in others if axis < len(keys)],
        )
