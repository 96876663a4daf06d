"""``worm-<line>-sac``: a discrete SAC agent learns when to switch the light on a simulated
transgenic worm so that it reaches a target (Li, Kreiman & Ramanathan 2024), offline.

The data: random-light episodes on the simulated line (light on with probability 0.1 in
each 1-s period, 20-minute episodes, a new worm and plate each; 5 hours per line, the
paper's protocol), drawn once from the run's seed. Each training batch is rotated by a
random multiple of the 30-degree angle bin and translated by up to one position unit
(1.9 cm) per axis, and its rewards recomputed, so one data set covers any target position
(the paper's augmentation). One iteration is ``steps_per_iteration`` gradient steps of an
ensemble of SAC agents (``neurorl.learn.sac_discrete``), then a score on validation plates
of their own seed: the fraction that reach the target within the episode.

Options beyond the paper: ``train.light_on_fraction`` draws that share of each batch from
the light-on decisions (class-balanced replay); ``train.online_episodes`` lets the agent play
that many plates per iteration with its own light and adds them to the data (online
training); ``sac.spiking_actor`` makes the policy a spiking network (exported to NIR by
``neurorl export`` when ``sac.ensemble=1``).

Evaluation plays fresh worms and targets (env seed ``eval.env_seed``) with the ensemble's
argmax; its statistics are the success rate, the median time to target (failures count as
the episode length) and the fraction of decisions with the light on.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Literal

import nir
import numpy as np
import torch
from torch import Tensor

from neurorl.core import configure_cpu
from neurorl.envs.worm.lines import LINES
from neurorl.envs.worm.plate import Episodes, PlateConfig, WormPlateBatch, run_episodes
from neurorl.errors import NotExportableError
from neurorl.experiments.common import EvalConfig
from neurorl.experiments.registry import Experiment, register
from neurorl.experiments.trainer import Trainer
from neurorl.learn.sac_discrete import (
    Batch,
    DiscreteSAC,
    SACConfig,
    actor_vector,
    build_actor,
    load_actor_vector,
)
from neurorl.nets.agents import GreedyAgent
from neurorl.streams import seed_of, stream


class Stream(IntEnum):
    """The random streams of a worm run, ``stream(seed, Stream.X, ...)``."""

    INIT = 0  # the networks' initial weights
    DATA = 1  # the random-light data set (worms, plates, light)
    BATCHES = 2  # batch indices and augmentation of one iteration
    VALIDATION = 3  # the validation plates (same every iteration)
    PLOTS = 4  # the plates of the plots' controls
    ONLINE = 5  # the plates and light draws of the agent's own episodes (online training)


@dataclass(frozen=True)
class DataConfig:
    """Random-light data: ``hours`` in episodes of ``episode_minutes``, a fresh worm each;
    the light is on with ``light_probability`` in each ``light_period_s``."""

    hours: float = 5.0
    episode_minutes: float = 20.0
    light_probability: float = 0.1
    light_period_s: float = 1.0

    def __post_init__(self) -> None:
        for name in ("hours", "episode_minutes", "light_period_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"data.{name} must be > 0, got {getattr(self, name)}")
        if not 0 <= self.light_probability <= 1:
            raise ValueError(
                f"data.light_probability must be in [0, 1], got {self.light_probability}"
            )


@dataclass(frozen=True)
class AugmentConfig:
    """Rotation by a random multiple of the angle bin; translation uniform in
    ``+-translation`` position units per axis (the paper: +-900 px / 900)."""

    rotation: bool = True
    translation: float = 1.0

    def __post_init__(self) -> None:
        if self.translation < 0:
            raise ValueError(f"augment.translation must be >= 0, got {self.translation}")


@dataclass(frozen=True)
class WormTrainConfig:
    gradient_steps: int = 20_000
    steps_per_iteration: int = 2_000
    validation_episodes: int = 100
    stop_score: float | None = None  # stop once the validation success reaches this
    checkpoint: Literal["best", "last"] = "best"
    light_on_fraction: float | None = None  # share of light-on transitions per batch
    online_episodes: int = 0  # plates the agent plays per iteration, added to the data

    def __post_init__(self) -> None:
        for name in ("gradient_steps", "steps_per_iteration", "validation_episodes"):
            if getattr(self, name) < 1:
                raise ValueError(f"train.{name} must be >= 1, got {getattr(self, name)}")
        if self.online_episodes < 0:
            raise ValueError(f"train.online_episodes must be >= 0, got {self.online_episodes}")
        if self.light_on_fraction is not None and not 0 < self.light_on_fraction < 1:
            raise ValueError(
                f"train.light_on_fraction must be in (0, 1) or null, got {self.light_on_fraction}"
            )


@dataclass(frozen=True)
class WormConfig:
    seed: int = 0
    device: str = "cpu"
    env: PlateConfig = field(default_factory=PlateConfig)
    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    sac: SACConfig = field(default_factory=lambda: SACConfig(ensemble=20))
    train: WormTrainConfig = field(default_factory=WormTrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)


# --- data -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LightData:
    """Random-light episodes: observations ``[E, T + 1, obs_dim]`` and light ``[E, T]``."""

    obs: Tensor
    light: Tensor

    @functools.cached_property
    def by_light(self) -> tuple[Tensor, Tensor]:
        """Flat ``episode * T + t`` indices of the light-off and of the light-on decisions."""
        flat = self.light.flatten()
        return torch.nonzero(~flat).squeeze(1), torch.nonzero(flat).squeeze(1)


def data_plates(env: PlateConfig, data: DataConfig) -> PlateConfig:
    """The plates of the data: episodes of ``data.episode_minutes`` that the target never
    ends."""
    return dataclasses.replace(
        env, episode_seconds=60.0 * data.episode_minutes, terminate_on_success=False
    )


def collect(
    config: PlateConfig,
    episodes: int,
    choose: Callable[[np.ndarray, int], np.ndarray],
    rng: np.random.Generator,
) -> LightData:
    """``episodes`` plates of ``config`` as one batch, the light at decision ``t`` chosen by
    ``choose(obs [E, obs_dim], t) -> light [E]``."""
    steps = config.episode_steps
    batch = WormPlateBatch(config, episodes)
    obs = np.empty((episodes, steps + 1, config.obs_dim), dtype=np.float32)
    light = np.empty((episodes, steps), dtype=bool)
    obs[:, 0] = batch.reset(rng)
    for t in range(steps):
        light[:, t] = choose(obs[:, t], t)
        obs[:, t + 1] = batch.step(light[:, t], rng)[0]
    return LightData(torch.from_numpy(obs), torch.from_numpy(light))


def collect_random_light(env: PlateConfig, data: DataConfig, seed: int) -> LightData:
    """The paper's offline data set: light on with ``light_probability`` in each period."""
    rng = np.random.default_rng(seed)
    config = data_plates(env, data)
    episodes = max(1, math.ceil(data.hours * 60 / data.episode_minutes))
    steps = config.episode_steps
    per_period = max(1, round(data.light_period_s * config.decision_rate_hz))
    periods = math.ceil(steps / per_period)
    light = np.repeat(rng.random((episodes, periods)) < data.light_probability, per_period, 1)
    return collect(config, episodes, lambda obs, t: light[:, t], rng)


def join(first: LightData, second: LightData) -> LightData:
    """Two data sets of equally long episodes as one."""
    return LightData(torch.cat([first.obs, second.obs]), torch.cat([first.light, second.light]))


def augment(obs: Tensor, next_obs: Tensor, angle: Tensor, shift: Tensor) -> tuple[Tensor, Tensor]:
    """Rotate the plate by ``angle [P, B]`` (rad) and move the target by ``shift [P, B, 2]``
    (position units): absolute angles turn by ``angle``, positions rotate then shift."""
    cos, sin = angle.cos()[..., None], angle.sin()[..., None]

    def transform(x: Tensor) -> Tensor:
        frames = x.unflatten(-1, (-1, 6))
        out = torch.empty_like(frames)
        for s, c in ((0, 1), (2, 3)):  # (sin, cos) of the body and of the head angle
            out[..., s] = frames[..., s] * cos + frames[..., c] * sin
            out[..., c] = frames[..., c] * cos - frames[..., s] * sin
        px, py = frames[..., 4], frames[..., 5]
        out[..., 4] = px * cos - py * sin + shift[..., :1]
        out[..., 5] = px * sin + py * cos + shift[..., 1:]
        return out.flatten(-2)

    return transform(obs), transform(next_obs)


def plate_reward(obs: Tensor, next_obs: Tensor, env: PlateConfig) -> Tensor:
    """The paper's reward from the newest frames: ``2 (d - d') + bonus [d' < bonus radius]``
    (distances in position units)."""
    before = obs[..., -2:].norm(dim=-1)
    after = next_obs[..., -2:].norm(dim=-1)
    bonus = env.bonus * (after < env.bonus_radius_cm / env.position_scale_cm).float()
    return 2.0 * (before - after) + bonus


def draw_transitions(
    data: LightData, shape: tuple[int, int], on_fraction: float | None, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """``(episode, t)`` indices ``shape``: uniform over the data, or with a share
    ``on_fraction`` of light-on decisions (class-balanced replay: with light on in 10% of the
    data, Q(s, on) would otherwise be fitted on a tenth of the samples of Q(s, off))."""
    episodes, steps = data.light.shape
    if on_fraction is None:
        episode = torch.randint(episodes, shape, generator=generator)
        return episode, torch.randint(steps, shape, generator=generator)
    off, on = data.by_light
    if not len(on) or not len(off):
        raise ValueError(
            "train.light_on_fraction needs light-on and light-off decisions in the data"
        )
    lit = torch.rand(shape, generator=generator) < on_fraction
    pick = torch.rand(shape, generator=generator)
    flat = torch.where(
        lit,
        on[(pick * len(on)).long().clamp(max=len(on) - 1)],
        off[(pick * len(off)).long().clamp(max=len(off) - 1)],
    )
    return flat // steps, flat % steps


def sample_batch(data: LightData, config: WormConfig, generator: torch.Generator) -> Batch:
    """``[P, B]`` augmented transitions, one batch per ensemble member."""
    members, size = config.sac.ensemble, config.sac.batch_size
    episode, t = draw_transitions(data, (members, size), config.train.light_on_fraction, generator)
    obs, next_obs = data.obs[episode, t], data.obs[episode, t + 1]
    bins = round(360 / config.env.angle_bin_deg)
    turns = (
        torch.randint(bins, (members, size), generator=generator)
        if config.augment.rotation
        else torch.zeros(members, size)
    )
    angle = turns * (2 * math.pi / bins)
    shift = config.augment.translation * (2 * torch.rand(members, size, 2, generator=generator) - 1)
    obs, next_obs = augment(obs, next_obs, angle, shift)
    return Batch(
        obs,
        data.light[episode, t].long(),
        plate_reward(obs, next_obs, config.env),
        next_obs,
        torch.zeros(members, size),  # the worm lives on: no terminal state in the data
    )


# --- the trainer --------------------------------------------------------------------------


class WormSACTrainer(Trainer):
    """Offline discrete SAC on a line's random-light data (the trainer contract)."""

    score_key = "val_success"

    def __init__(self, config: WormConfig) -> None:
        configure_cpu()
        self.config = config
        self.device = torch.device(config.device)
        self.iteration = self.env_steps = self.episodes = 0
        self.last_score = -math.inf
        self.offline = collect_random_light(
            config.env, config.data, seed_of(stream(config.seed, Stream.DATA))
        )
        self.online: LightData | None = None  # the agent's own episodes (online training)
        self.data = self.offline
        self.env_steps = int(self.data.light.numel())  # decisions simulated for the data set
        self.sac = DiscreteSAC(config.env.obs_dim, 2, config.sac, stream(config.seed, Stream.INIT))
        self.sac.to(self.device)
        self.validation_seed = seed_of(stream(config.seed, Stream.VALIDATION))

    @property
    def keeps(self):
        return self.config.train.checkpoint

    @property
    def budget(self) -> int:
        return self.config.train.gradient_steps

    @property
    def progress(self) -> int:
        return self.sac.updates

    def finished(self) -> bool:
        stop = self.config.train.stop_score
        return self.sac.updates >= self.budget or (stop is not None and self.last_score >= stop)

    def play_online(self) -> None:
        """Online training: ``online_episodes`` fresh plates on which the light follows the
        current policy (sampled from the ensemble's mean probability), added to the data."""
        config = self.config
        generator = stream(config.seed, Stream.ONLINE, self.iteration)
        rng = np.random.default_rng(seed_of(generator))
        probability = self.light_probability(self.params())
        played = collect(
            data_plates(config.env, config.data),
            config.train.online_episodes,
            lambda obs, t: rng.random(len(obs)) < probability(obs),
            rng,
        )
        self.online = played if self.online is None else join(self.online, played)
        self.data = join(self.offline, self.online)
        self.env_steps += int(played.light.numel())

    def train_step(self) -> dict[str, float]:
        train = self.config.train
        if train.online_episodes:
            self.play_online()
        generator = stream(self.config.seed, Stream.BATCHES, self.iteration)
        steps = min(train.steps_per_iteration, self.budget - self.sac.updates)
        losses: dict[str, list[float]] = {}
        for _ in range(steps):
            batch = sample_batch(self.data, self.config, generator)
            batch = Batch(*(x.to(self.device) for x in batch))
            for key, value in self.sac.update(batch).items():
                losses.setdefault(key, []).append(value)
        self.iteration += 1
        episodes = self.play(self.params(), train.validation_episodes, self.validation_seed)
        self.episodes += train.validation_episodes
        self.last_score = episodes.success
        return {
            "iteration": self.iteration,
            "episodes": self.episodes,
            "env_steps": self.env_steps,
            "gradient_steps": self.sac.updates,
            "val_success": episodes.success,
            "val_median_time_s": episodes.median_time(self.config.env.episode_seconds),
            "val_light_on": float(episodes.light_on.mean()),
            **{key: float(np.mean(values)) for key, values in losses.items()},
        }

    # --- parameters -------------------------------------------------------------------------

    def params(self) -> Tensor:
        return actor_vector(self.sac.actor).cpu()

    def actor_with(self, params: Tensor) -> torch.nn.Module:
        """An ensemble actor (ReLU or spiking) holding the flat vector ``params``."""
        generator = torch.Generator().manual_seed(0)
        actor = build_actor(self.config.sac, self.config.env.obs_dim, 2, generator)
        load_actor_vector(actor, params)
        return actor.to(self.device)

    def to_nir(self, params: Tensor) -> nir.NIRGraph:
        """The spiking actor as NIR (its logits; light on where logit 1 > logit 0)."""
        sac = self.config.sac
        if not sac.spiking_actor:
            raise NotExportableError("the actor is a ReLU MLP: train with sac.spiking_actor=true")
        if sac.ensemble != 1:
            raise NotExportableError(
                f"an ensemble of {sac.ensemble} acts by its mean probability, which NIR cannot "
                "hold: train with sac.ensemble=1"
            )
        return self.actor_with(params).cpu().members[0].to_nir()

    def state_dict(self) -> dict:
        return {
            "sac": self.sac.state_dict(),
            "optimizers": self.sac.optimizer_states(),
            "updates": self.sac.updates,
            "iteration": self.iteration,
            "episodes": self.episodes,
            "last_score": self.last_score,
            "env_steps": self.env_steps,
            "online": None if self.online is None else (self.online.obs, self.online.light),
        }

    def load_state_dict(self, state: dict) -> None:
        self.sac.load_state_dict(state["sac"])
        self.sac.load_optimizer_states(state["optimizers"])
        self.sac.updates, self.iteration = state["updates"], state["iteration"]
        self.episodes, self.last_score = state["episodes"], state["last_score"]
        self.env_steps = state.get("env_steps", self.env_steps)  # absent before online training
        if state.get("online") is not None:
            self.online = LightData(*state["online"])
            self.data = join(self.offline, self.online)

    # --- the trained policy -------------------------------------------------------------------

    def greedy(self, params: Tensor):
        """``obs [B, obs_dim] -> light [B]``: argmax of the members' mean probability."""
        actor = self.actor_with(params)
        members = self.config.sac.ensemble

        @torch.no_grad()
        def act(obs: Tensor) -> Tensor:
            obs = obs.to(self.device, torch.float32)
            probabilities = torch.softmax(actor(obs.expand(members, *obs.shape)), dim=-1)
            return probabilities.mean(0).argmax(-1)

        return act

    def play(self, params: Tensor, episodes: int, env_seed: int) -> Episodes:
        act = self.greedy(params)
        policy = lambda obs, rng: act(torch.from_numpy(obs)).cpu().numpy()  # noqa: E731
        return run_episodes(self.config.env, policy, episodes, env_seed)

    def evaluate(
        self, params: Tensor, episodes: int, env_seed: int
    ) -> tuple[np.ndarray, dict[str, float]]:
        played = self.play(params, episodes, env_seed)
        return played.returns, {
            "success": played.success,
            "median_time_to_target_s": played.median_time(self.config.env.episode_seconds),
            "light_on_fraction": float(played.light_on.mean()),
        }

    def agent(self, params: Tensor, seed: int = 0) -> GreedyAgent:
        return GreedyAgent(self.greedy(params), self.device)

    def plots(self, folder: Path, params: Tensor) -> list[Path]:
        from neurorl.analysis.worm_plots import controls_figure, policy_map_figure

        folder.mkdir(parents=True, exist_ok=True)
        act = self.greedy(params)
        probability = self.light_probability(params)
        seed = seed_of(stream(self.config.seed, Stream.PLOTS))
        return [
            policy_map_figure(probability, self.config.env, folder / "policy_map.png"),
            controls_figure(
                {self.config.env.line: self.config.env},
                {self.config.env.line: lambda obs: act(torch.from_numpy(obs)).cpu().numpy()},
                episodes=100,
                seed=seed,
                path=folder / "time_to_target.png",
            ),
        ]

    def light_probability(self, params: Tensor):
        """``obs [B, obs_dim] -> P(light on) [B]`` (the members' mean probability)."""
        actor = self.actor_with(params)
        members = self.config.sac.ensemble

        @torch.no_grad()
        def probability(obs: np.ndarray) -> np.ndarray:
            x = torch.from_numpy(obs).to(self.device, torch.float32)
            return torch.softmax(actor(x.expand(members, *x.shape)), -1).mean(0)[:, 1].cpu().numpy()

        return probability


def _line_config(line: str) -> WormConfig:
    return WormConfig(env=PlateConfig(line=line))


for _line in LINES:
    register(
        Experiment(
            f"worm-{_line}-sac",
            f"Li 2024 worm plate, line {_line} ({LINES[_line].note}): offline discrete SAC "
            "ensemble on 5 h of random-light data",
            lambda line=_line: _line_config(line),
            WormSACTrainer,
        )
    )
