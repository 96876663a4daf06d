"""Plots of a parameter sweep: a heat map per pair of keys, a sensitivity plot for one key."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from neurorl.analysis.plots import save_figure


def plot_heatmap(
    table: np.ndarray,
    rows: tuple[str, list[str]],
    columns: tuple[str, list[str]],
    path: Path,
    seeds: int,
    averaged: list[str],
) -> Path:
    """``table[i, j]``: the mean test return at the i-th value of the ``rows`` key (y axis) and
    the j-th value of the ``columns`` key (x axis); every cell annotated."""
    (row_key, row_values), (column_key, column_values) = rows, columns
    fig, ax = plt.subplots(figsize=(1.2 * len(column_values) + 2.5, 0.8 * len(row_values) + 2))
    image = ax.imshow(table, cmap="viridis", origin="lower", aspect="auto")
    middle = (np.nanmin(table) + np.nanmax(table)) / 2
    for (i, j), value in np.ndenumerate(table):
        color = "black" if value > middle else "white"
        ax.text(j, i, f"{value:.1f}", ha="center", va="center", color=color)
    ax.set_xticks(range(len(column_values)), column_values)
    ax.set_yticks(range(len(row_values)), row_values)
    ax.set_xlabel(column_key)
    ax.set_ylabel(row_key)
    over = f"{seeds} seed{'s' * (seeds > 1)}" + "".join(f", all {key}" for key in averaged)
    ax.set_title(f"test mean return (mean over {over})", fontsize=9)
    fig.colorbar(image, ax=ax)
    return save_figure(fig, path)


def plot_sensitivity(key: str, values: list[str], returns: np.ndarray, path: Path) -> Path:
    """Bars: the mean over seeds of ``returns[i]`` (one test mean return per seed) at the i-th
    value of ``key``, with the std as error bar and each seed as a dot."""
    fig, ax = plt.subplots(figsize=(max(4.0, 0.9 * len(values) + 2), 4))
    x = np.arange(len(values))
    ax.bar(x, returns.mean(1), yerr=returns.std(1), capsize=4, alpha=0.6)
    for seed in range(returns.shape[1]):
        label = "one seed" if seed == 0 else None
        ax.plot(x, returns[:, seed], "o", color="C1", markersize=4, label=label)
    ax.set_xticks(x, values)
    ax.set_xlabel(key)
    ax.set_ylabel(f"test mean return (mean, std, {returns.shape[1]} seeds)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend()
    return save_figure(fig, path)
