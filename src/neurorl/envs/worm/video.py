"""Videos of worm plates through Gymnasium's ``RecordVideo`` (needs the ``video`` extra:
``pip install 'neurorl[video]'``, i.e. moviepy).

``neurorl worm video RUN_DIR`` plays a trained ``worm-<line>-sac`` run's kept policy on fresh
plates and writes one MP4 per episode; ``--line``, ``--obstacles`` and ``--food`` put the
agent on other worms or plates than it was trained on, ``--light off|on`` plays a fixed light
instead of the agent.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import numpy as np

from neurorl.envs.worm.env import WormPlate
from neurorl.envs.worm.lines import LINES
from neurorl.envs.worm.plate import PlateConfig
from neurorl.errors import ConfigError

Act = Callable[[np.ndarray], int]  # one observation [obs_dim] -> light 0 / 1


def require_moviepy() -> None:
    """A one-line error where Gymnasium's ``RecordVideo`` cannot write (no moviepy)."""
    if importlib.util.find_spec("moviepy") is None:
        raise ConfigError("videos need moviepy: pip install 'neurorl[video]'")


def record(
    config: PlateConfig,
    act: Act,
    folder: Path,
    episodes: int = 1,
    seed: int = 42,
    fps: float = 30.0,
    prefix: str = "worm",
) -> list[Path]:
    """``episodes`` plates (from env seed ``seed``) played by ``act``, one MP4 each in
    ``folder`` at ``fps`` frames per second (the plate's 3 decisions per second sped up)."""
    require_moviepy()
    env = WormPlate(config, render_mode="rgb_array")
    env.metadata = {**env.metadata, "render_fps": fps}
    recorder = gym.wrappers.RecordVideo(
        env, str(folder), episode_trigger=lambda episode: True, name_prefix=prefix
    )
    for episode in range(episodes):
        obs, _ = recorder.reset(seed=seed if episode == 0 else None)
        done = False
        while not done:
            obs, _, terminated, truncated, _ = recorder.step(act(obs))
            done = terminated or truncated
    recorder.close()
    return sorted(folder.glob(f"{prefix}-episode-*.mp4"))


def add_parser(verbs: argparse._SubParsersAction) -> None:
    """``neurorl worm video RUN_DIR [--out DIR] [--episodes N] [--seed S] [--line L]
    [--obstacles K] [--food] [--light agent|off|on] [--fps F]``."""
    video = verbs.add_parser("video", help="MP4s of a worm run's policy (needs moviepy)")
    video.add_argument("run_dir", type=Path, help="a worm-<line>-sac run folder")
    video.add_argument("--out", type=Path, help="video folder (default RUN_DIR/videos)")
    video.add_argument("--episodes", type=int, default=1)
    video.add_argument("--seed", type=int, default=42, help="env seed of the plates")
    video.add_argument("--line", help="play on this line's worms (default: the run's)")
    video.add_argument("--obstacles", type=int, help="obstacles per plate (default: the run's)")
    video.add_argument("--food", action="store_true", help="a food patch at the target")
    video.add_argument("--light", choices=("agent", "off", "on"), default="agent")
    video.add_argument("--fps", type=float, default=30.0, help="video frames per second")


def run(args: argparse.Namespace) -> str:
    """Write the videos of ``neurorl worm video``; the folder they are in."""
    import torch

    from neurorl.experiments.runner import open_run

    if args.episodes < 1 or args.fps <= 0:
        raise ConfigError(f"--episodes must be >= 1 and --fps > 0, got {args.episodes}, {args.fps}")
    if args.line is not None and args.line not in LINES:
        raise ConfigError(f"--line must be one of {', '.join(LINES)}, got {args.line!r}")
    run = open_run(args.run_dir, "cpu")
    if not isinstance(getattr(run.config, "env", None), PlateConfig):
        raise ConfigError(f"{args.run_dir} is not a worm run (no plate in its config)")
    changes: dict = {"food": args.food or run.config.env.food}
    if args.line is not None:
        changes["line"] = args.line
    if args.obstacles is not None:
        changes["obstacles"] = args.obstacles
    try:
        config = dataclasses.replace(run.config.env, **changes)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    require_moviepy()
    if args.light == "agent":
        if not run.best.is_file():
            raise ConfigError(f"{args.run_dir} has no trained policy (best.pt)")
        greedy = run.make_trainer().greedy(torch.load(run.best, weights_only=True)["params"])
        act: Act = lambda obs: int(greedy(torch.from_numpy(obs[None]))[0])  # noqa: E731
    else:
        light = int(args.light == "on")
        act = lambda obs: light  # noqa: E731
    folder = args.out or args.run_dir / "videos"
    prefix = f"{config.line}-{args.light}"
    paths = record(config, act, folder, args.episodes, args.seed, args.fps, prefix)
    return "\n".join(str(path) for path in paths)
