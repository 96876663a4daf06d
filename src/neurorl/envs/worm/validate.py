"""``neurorl worm validate``: the simulated worm's statistics beside the published ones.

Worms of the wild-type line crawl with the light off on a plate with no target; their
tracks (3 frames per second) give the figures the locomotion model is calibrated to.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np

from neurorl.envs.worm import locomotion, video
from neurorl.envs.worm.locomotion import Mode, WormParams
from neurorl.errors import ConfigError

FRAME_RATE_HZ = 3.0
PLATE_RADIUS_CM = 2.0


@dataclass(frozen=True)
class Tracks:
    """Centroids ``x, y [T, N]`` (cm) at 3 Hz and reversal onsets ``[T, N]`` (bool)."""

    x: np.ndarray
    y: np.ndarray
    reversal_onset: np.ndarray


def simulate_tracks(
    worms: int, minutes: float, seed: int, params: WormParams | None = None
) -> Tracks:
    """Light-off tracks of ``worms`` worms from the plate centre for ``minutes``."""
    params = params or WormParams()
    rng = np.random.default_rng(seed)
    dt, steps = 1.0 / FRAME_RATE_HZ, int(minutes * 60 * FRAME_RATE_HZ)
    state = locomotion.initial_state(np.zeros(worms), np.zeros(worms), params, rng)
    x, y, onset = np.empty((steps, worms)), np.empty((steps, worms)), np.empty((steps, worms), bool)
    for t in range(steps):
        was_reversing = state.mode == Mode.REVERSAL
        state = locomotion.step(state, locomotion.Modulation(), params, dt, rng, PLATE_RADIUS_CM)
        x[t], y[t] = state.x, state.y
        onset[t] = (state.mode == Mode.REVERSAL) & ~was_reversing
    return Tracks(x, y, onset)


def statistics(tracks: Tracks) -> dict[str, float]:
    """The calibrated figures of a set of tracks (um/s, per minute, correlations)."""
    per_second = int(FRAME_RATE_HZ)
    vx = np.diff(tracks.x[::per_second], axis=0)  # cm per 1-s window
    vy = np.diff(tracks.y[::per_second], axis=0)
    speed_um_s = 1e4 * np.hypot(vx, vy).ravel()
    counts, edges = np.histogram(speed_um_s, bins=np.arange(0, 400, 10))
    moving = edges[:-1] >= 50
    peak = edges[:-1][moving][np.argmax(counts[moving])] + 5
    minutes = tracks.reversal_onset.shape[0] / (60 * FRAME_RATE_HZ)
    per_minute = tracks.reversal_onset.reshape(int(minutes), -1, tracks.x.shape[1]).sum(axis=1)
    rate = per_minute.mean(axis=1)
    slope, intercept = np.polyfit(np.arange(len(rate)) + 0.5, np.log(np.maximum(rate, 1e-9)), 1)
    power = (vx**2 + vy**2).mean()

    def correlation(lag_s: int) -> float:
        return float((vx[:-lag_s] * vx[lag_s:] + vy[:-lag_s] * vy[lag_s:]).mean() / power)

    return {
        "speed_peak_um_s": float(peak),
        "fraction_below_50_um_s": float((speed_um_s < 50).mean()),
        "fraction_above_350_um_s": float((speed_um_s > 350).mean()),
        "reorientations_per_min_first_minute": float(rate[0]),
        "reorientation_rate_fit_per_min": float(np.exp(intercept)),
        "reorientation_decay_fit_per_min": float(-slope),
        "velocity_correlation_5s": correlation(5),
        "velocity_correlation_10s": correlation(10),
        "velocity_correlation_15s": correlation(15),
    }


PUBLISHED: dict[str, tuple[str, str]] = {
    "speed_peak_um_s": ("~180", "Roberts et al. 2016 eLife 5:e12572, off food"),
    "fraction_below_50_um_s": ("pause/slow peak ~14 um/s", "Roberts et al. 2016"),
    "fraction_above_350_um_s": ("~0 (fast up to 350)", "Ding et al. 2019 eLife 8:e43318"),
    "reorientations_per_min_first_minute": (
        "~1.5-2",
        "López-Cruz et al. 2019; Rutherford & Croll 1979",
    ),
    "reorientation_rate_fit_per_min": ("1.54", "López-Cruz et al. 2019 Neuron 102:407"),
    "reorientation_decay_fit_per_min": ("0.07", "López-Cruz et al. 2019"),
    "velocity_correlation_5s": ("high (heading ~constant 10 s)", "Roberts et al. 2016"),
    "velocity_correlation_10s": ("falling", "Roberts et al. 2016; Ding et al. 2019"),
    "velocity_correlation_15s": ("~0", "Ding et al. 2019"),
}


def table(stats: dict[str, float]) -> str:
    """Simulated beside published, one row per statistic (Markdown)."""
    rows = ["| statistic | simulated | published | source |", "|---|---|---|---|"]
    for key, value in stats.items():
        published, source = PUBLISHED[key]
        rows.append(f"| {key} | {value:.3g} | {published} | {source} |")
    return "\n".join(rows)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """``neurorl worm validate [--worms N] [--minutes M] [--seed S]`` and ``neurorl worm
    video`` (:mod:`neurorl.envs.worm.video`)."""
    worm = subparsers.add_parser("worm", help="the simulated C. elegans plate (Li et al. 2024)")
    verbs = worm.add_subparsers(dest="worm_command", required=True)
    validate = verbs.add_parser("validate", help="simulated locomotion statistics vs published")
    validate.add_argument("--worms", type=int, default=500, help="worms simulated (default 500)")
    validate.add_argument("--minutes", type=int, default=20, help="track length (default 20)")
    validate.add_argument("--seed", type=int, default=0)
    video.add_parser(verbs)
    return worm


def run(args: argparse.Namespace) -> str:
    """The table of ``neurorl worm validate`` (or the videos of ``neurorl worm video``)."""
    if args.worm_command == "video":
        return video.run(args)
    if args.worms < 1 or args.minutes < 2:
        raise ConfigError(
            f"--worms must be >= 1 and --minutes >= 2, got {args.worms} and {args.minutes}"
        )
    stats = statistics(simulate_tracks(args.worms, args.minutes, args.seed))
    return (
        f"{args.worms} wild-type worms, light off, {args.minutes} min at 3 Hz, seed {args.seed}\n"
        + table(stats)
    )
