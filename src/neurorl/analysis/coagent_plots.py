"""Plots of neuron-level learning (Aenugu 2020): do all the units learn?"""

from __future__ import annotations

import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def plot_unit_learning(metrics_file: Path, folder: Path) -> list[Path]:
    """``units.png``: per-layer firing rates (``rate_layer*``) and, for coagent networks, the
    fraction of units whose update moved them in the direction of their TD error
    (``towards_layer*``), against training episodes. Nothing when the run logged neither."""
    with metrics_file.open() as file:
        rows = list(csv.DictReader(file))
    if not rows:
        return []
    rates = sorted(key for key in rows[0] if key.startswith("rate_layer"))
    towards = sorted(key for key in rows[0] if key.startswith("towards_layer"))
    if not rates:
        return []
    episodes = [float(row["episodes"]) for row in rows]
    panels = 2 if towards else 1
    figure, axes = plt.subplots(1, panels, figsize=(5 * panels, 3.6), squeeze=False)
    for key in rates:
        label = "output" if key == rates[-1] else f"hidden {key.removeprefix('rate_layer')}"
        axes[0, 0].plot(episodes, [float(row[key]) for row in rows], label=label)
    axes[0, 0].set(xlabel="training episodes", ylabel="fraction of units firing", ylim=(0, 1))
    axes[0, 0].set_title("firing rate per layer")
    axes[0, 0].legend()
    if towards:
        for key in towards:
            label = (
                "output" if key == towards[-1] else f"hidden {key.removeprefix('towards_layer')}"
            )
            values = [float(row[key]) for row in rows]
            axes[0, 1].plot(episodes, values, label=label)
        axes[0, 1].set(xlabel="training episodes", ylabel="fraction of units", ylim=(0, 1.02))
        axes[0, 1].set_title("units moved towards their reinforced output")
        axes[0, 1].legend()
    figure.tight_layout()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "units.png"
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return [path]
