"""Plots of runs and comparisons (PNG files, matplotlib's non-interactive backend)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from neurorl.errors import NeurorlError
from neurorl.files import atomic_write_bytes

# per-episode or per-generation returns a trainer may log, besides its score
CURVES = ("mean_return", "steps")


def save_figure(fig: plt.Figure, path: Path, dpi: int = 120) -> Path:
    """Lay out, write ``fig`` to ``path`` as PNG atomically, and close it."""
    fig.tight_layout()
    atomic_write_bytes(path, lambda file: fig.savefig(file, format="png", dpi=dpi))
    plt.close(fig)
    return path


def load_metrics(run_dir: Path) -> dict[str, np.ndarray]:
    """metrics.csv as ``{column: values}``."""
    path = run_dir / "metrics.csv"
    if not path.is_file():
        raise NeurorlError(f"{run_dir} has no metrics.csv to plot")
    data = np.genfromtxt(path, delimiter=",", names=True, ndmin=1)
    if data.size == 0 or data.dtype.names is None:
        raise NeurorlError(f"{path} holds no metrics yet")
    return {name: np.atleast_1d(data[name]) for name in data.dtype.names}


def plot_run(run_dir: Path) -> list[Path]:
    """``plots/learning_curve.png``: the training score and returns against episodes."""
    metrics = load_metrics(run_dir)
    out = run_dir / "plots"
    out.mkdir(exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 4))
    for key in CURVES:
        if key in metrics:
            ax.plot(metrics["episodes"], metrics[key], label=key.replace("_", " "), alpha=0.5)
    ax.plot(metrics["episodes"], metrics["score"], label="score", color="black")
    ax.set_xlabel("training episodes")
    ax.set_ylabel("episode return")
    ax.set_title(run_dir.parent.name + " / " + run_dir.name)
    ax.legend()
    ax.grid(alpha=0.3)
    return [save_figure(fig, out / "learning_curve.png")]


def seed_band(
    runs: list[dict[str, np.ndarray]], key: str, points: int = 200
) -> tuple[np.ndarray, np.ndarray]:
    """``(episodes [points], values [seeds, points])``: each run's ``key`` on a common grid
    up to the longest run; a run that stopped earlier (e.g. on its validation) holds its last
    value from there on."""
    end = max(run["episodes"][-1] for run in runs)
    grid = np.linspace(0, end, points)
    return grid, np.stack([np.interp(grid, run["episodes"], run[key]) for run in runs])


def plot_comparison(
    curves: dict[str, list[dict[str, np.ndarray]]], path: Path, key: str = "score"
) -> Path:
    """Per experiment, the mean of ``key`` over seeds against episodes, with a min-max band
    (:func:`seed_band`)."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, runs in curves.items():
        grid, values = seed_band(runs, key)
        ax.plot(grid, values.mean(0), label=f"{name} ({len(runs)} seeds)")
        ax.fill_between(grid, values.min(0), values.max(0), alpha=0.2)
    ax.set_xlabel("training episodes")
    ax.set_ylabel(f"{key} (mean and min-max over seeds)")
    ax.legend()
    ax.grid(alpha=0.3)
    return save_figure(fig, path)
