"""STDP-RL on the paper's CartPole network (Haşegan et al. 2022), one file top to bottom.

The agent plays CartPole-v1 online, one 50-ms network window per environment step, and learns
with reward-modulated STDP on the E->E AMPA synapses (EA->EM, optionally ES->EA too):

1. the window's spikes update the eligibility of every plastic synapse (binary Hebbian and
   anti-Hebbian tags, or exponential MSTDPET traces: :mod:`neurorl.learn.stdp`);
2. the action is the EM half with more spikes (a tie or silence: a random "unknown move");
3. the critic turns the change of the pole's state into a reward in [-1, 1] (the original's
   ``critic.py``, v1): ``r = gain (loss_before - loss_after)``, ``loss = sqrt(theta^2 +
   k omega^2)``, times ``positive_bias`` when positive, ``max_reward`` when the pole ends
   balanced (|theta|, |omega| < 0.01 rad, rad/s), ``-max_reward / positive_bias`` for an
   unknown move, 0 when it started balanced;
4. targeted reward: the chosen action's EM half gets ``+r``, the other half
   ``-opposite_factor r``; ES->EA synapses (when plastic) get ``es_ea_factor r``; the
   EA->EM change of each presynaptic EA cell is scaled by output balancing (its outgoing
   weight now against at the start, clipped to [0.1, 2]);
5. homeostasis every few steps: each EM and EA cell's incoming plastic weights are rescaled to
   their initial mean times a slow gain that steers the EA and EM halves' rates to 5.5 and
   6 Hz.

The schedule is the original's three configs (``config.json``, ``config2.json``,
``config3.json``): stages of simulated time with their own windows, tag lifetimes, rates
(already times the E->E gain 2), critic weights and opposite factors. One iteration is one
episode; the network state runs on across episodes, the eligibility is cleared at each
episode's end (``resetEligTrace``). Episode ``k`` starts from env seed ``(seed, k)``, so a
run resumed from any checkpoint continues exactly as an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import math
from collections import deque
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any, Literal

import gymnasium as gym
import nir
import numpy as np
import torch
from torch import Tensor

from neurorl.envs import discrete_env_spaces
from neurorl.errors import ConfigError
from neurorl.experiments.common import CheckpointRule, EvalConfig, check_checkpoint_rule
from neurorl.experiments.trainer import Checkpoint, Trainer
from neurorl.learn import homeostasis
from neurorl.learn.rollout import evaluate_policy, run_episodes
from neurorl.learn.stdp import (
    STDPConfig,
    STDPState,
    apply_reward,
    compiled_update_eligibility,
    reset_eligibility,
    stdp_init,
    update_eligibility,
)
from neurorl.nets.agents import PolicyAgent
from neurorl.nets.cartpole_network import (
    PlasticWeights,
    initial_state,
    select_members,
    stack_networks,
)
from neurorl.nets.cartpole_policy import (
    PaperNetworkPolicy,
    PaperNetworkPolicyConfig,
    PaperNetworkState,
)
from neurorl.streams import seed_of, stream


@dataclass(frozen=True)
class Stage:
    """One stage of the schedule: ``env_steps`` windows of 50 ms (so 20 per simulated s)."""

    env_steps: int
    window_ms: float  # pre/post interval that tags a synapse
    lifetime_ms: float  # how long a tag stays eligible
    rate: float  # |dw| per unit reward and tag (mV), Hebbian +rate, anti-Hebbian -rate
    angvel_weight: float  # k of the critic's loss sqrt(theta^2 + k omega^2)
    positive_bias: float  # positive rewards are multiplied by this
    opposite_factor: float  # the unchosen EM half gets -opposite_factor * r

    def __post_init__(self) -> None:
        if self.env_steps < 1:
            raise ValueError(f"stage env_steps must be >= 1, got {self.env_steps}")
        if self.rate < 0 or self.positive_bias <= 0 or self.angvel_weight < 0:
            raise ValueError("stage rate and angvel_weight must be >= 0, positive_bias > 0")


# The original's seed runs (its results/seedrun_m1 folder): 500 s of config.json, 2000 s of
# config2.json, then config3.json for 2000, 2000, 2000, 5000, 5000 and 6500 s: 25,000 s in all
# (its best seed's episodes per process, steps_per_eps/run_1394398_normal.txt). Each process
# was a restart (``restart_stages``); given as one stage here, as one process.
PAPER_STAGES = (
    Stage(10_000, 3.0, 400.0, 0.04, 0.4, 1.5, 1.0),
    Stage(40_000, 5.0, 250.0, 0.002, 1.0, 2.0, 1.0),
    Stage(450_000, 5.0, 250.0, 0.01, 1.2, 2.0, 0.9),
)


@dataclass(frozen=True)
class PlasticityConfig:
    plastic: Literal["ea_em", "es_ea_em"] = "ea_em"
    eligibility: Literal["tags", "trace"] = "tags"
    es_ea_factor: float = 0.8  # reward scale on ES->EA when it is plastic (targetedNonEM)
    w_max_mv: float = 400.0
    # True: dw > 0 scaled by (w_max - w) / w_max and dw < 0 by w / w_max (the original's
    # ``softthresh``, off in its configs), a unimodal weight distribution (van Rossum et al.
    # 2000) where the additive rule lets a few synapses take a cell's input
    soft_bound: bool = False
    normalize_every: int = 25  # env steps between weight normalisations; 0: off
    output_balancing: bool = True
    # True: grown cells gain less from rewards and lose more to punishments (the original's
    # comment); False: the reverse (the original's code, sim.py:650-667)
    output_balancing_homeostatic: bool = False
    gain_control_every: int = 75  # env steps; 0: off
    gain_control_window: int = 500  # env steps over which rates are measured
    gain_control_step: float = 1e-4
    target_rate_ea_hz: float = 5.5
    target_rate_em_hz: float = 6.0

    def __post_init__(self) -> None:
        if self.normalize_every < 0 or self.gain_control_every < 0:
            raise ValueError("plasticity.normalize_every and gain_control_every must be >= 0")
        if self.gain_control_window < 1:
            raise ValueError("plasticity.gain_control_window must be >= 1")


@dataclass(frozen=True)
class CriticConfig:
    gain: float = 3.0
    max_reward: float = 1.0
    balanced_below: float = 0.01  # rad and rad/s


@dataclass(frozen=True)
class STDPRLTrainConfig:
    """The training score (the paper's measure: mean steps of the last ``score_episodes``
    training episodes), the stop, and model selection as SB3's EvalCallback: every
    ``validate_every`` training episodes the current weights play ``validation_episodes``
    episodes with plasticity off, from initial states of their own (not the test's)."""

    score_episodes: int = 100
    stop_score: float | None = None  # stop once the training score reaches this
    validate_every: int = 0  # training episodes; 0: off
    validation_episodes: int = 50
    checkpoint: CheckpointRule = "best"

    def __post_init__(self) -> None:
        if self.score_episodes < 1:
            raise ValueError(f"train.score_episodes must be >= 1, got {self.score_episodes}")
        if self.validate_every < 0 or self.validation_episodes < 1:
            raise ValueError(
                "train.validate_every must be >= 0 and train.validation_episodes >= 1, got "
                f"{self.validate_every} and {self.validation_episodes}"
            )
        check_checkpoint_rule(self.checkpoint, self.validate_every)


@dataclass(frozen=True)
class STDPRLConfig:
    """``net``: the paper network (its ``compile`` runs each 50-ms window, whose every step's
    spikes the eligibility reads, through ``torch.compile``)."""

    env_id: str = "CartPole-v1"
    seed: int = 0
    device: str = "cpu"
    net: PaperNetworkPolicyConfig = field(
        default_factory=lambda: PaperNetworkPolicyConfig(compile=True)
    )
    stages: tuple[Stage, ...] = PAPER_STAGES
    # the original ran each stage as a new process (``main.py cont_seedrun`` and ``continue``)
    # that re-measured its homeostasis references from the weights it loaded (sim.py:844-847):
    # True: at each stage's start the incoming-weight targets and the output-balancing
    # baseline become the current means (the gain folded in and reset to 1), the rate window
    # starts empty and the network state fresh; False: one process over the whole schedule
    restart_stages: bool = False
    plasticity: PlasticityConfig = field(default_factory=PlasticityConfig)
    critic: CriticConfig = field(default_factory=CriticConfig)
    train: STDPRLTrainConfig = field(default_factory=STDPRLTrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def __post_init__(self) -> None:
        if not self.stages:
            raise ValueError("stages must hold at least one stage")
        if (self.net.evolve, self.net.scale) != ("all", "linear"):
            raise ValueError(
                "STDP-RL learns all plastic weights in mV: net.evolve=all and net.scale=linear"
            )


def critic_reward(
    before: np.ndarray, after: np.ndarray, unknown_move: bool, stage: Stage, critic: CriticConfig
) -> float:
    """The original's v1 critic (``neurosim/critic.py``) for one CartPole transition."""

    def balanced(obs: np.ndarray) -> bool:
        return abs(obs[2]) < critic.balanced_below and abs(obs[3]) < critic.balanced_below

    def loss(obs: np.ndarray) -> float:
        return math.sqrt(obs[2] ** 2 + stage.angvel_weight * obs[3] ** 2)

    if balanced(before):
        return 0.0
    if unknown_move:
        reward = -critic.max_reward / stage.positive_bias
    elif balanced(after):
        reward = critic.max_reward
    else:
        reward = critic.gain * (loss(before) - loss(after))
    if reward > 0:
        reward *= stage.positive_bias
    return min(max(reward, -critic.max_reward), critic.max_reward)


def stdp_config(stage: Stage, plasticity: PlasticityConfig) -> STDPConfig:
    """The STDP rule of one stage (trace variant: a+ = rate, a- = 1.5 rate, Izhikevich 2007)."""
    return STDPConfig(
        eligibility=plasticity.eligibility,
        hebb_window_ms=stage.window_ms,
        anti_window_ms=stage.window_ms,
        hebb_lifetime_ms=stage.lifetime_ms,
        anti_lifetime_ms=stage.lifetime_ms,
        hebb_rate=stage.rate,
        anti_rate=-stage.rate,
        a_plus=stage.rate,
        a_minus=1.5 * stage.rate,
        w_max=plasticity.w_max_mv,
        soft_bound=plasticity.soft_bound,
    )


class Stream(IntEnum):
    """The random streams of an STDP-RL run, ``stream(seed, Stream.X, episode)``."""

    VALIDATION_STARTS = 4
    EPISODE = 5  # an episode's initial state and the vote's tie-breaks in it
    VALIDATION_ROLLOUT = 6


WEIGHT_NAMES = {"ES->EA": "es_ea", "EA->EM": "ea_em"}  # connection -> PlasticWeights field


@dataclass
class Member:
    """One seed's run in a batch: its own network (``policy``, plasticity off: validation,
    tests, plots), environment, episode counters, and the episode under way (``generator``
    None between episodes)."""

    seed: int
    policy: PaperNetworkPolicy
    env: gym.Env
    recent: deque[int]
    episodes: int = 0
    validation_env_steps: int = 0
    finished: bool = False
    generator: torch.Generator | None = None
    obs: np.ndarray | None = None
    rewards: float = 0.0
    unknown: int = 0
    steps: int = 0


class STDPRLTrainer(Trainer):
    """Online STDP-RL of one network, or of K networks stepped as one tensor program.

    ``seeds`` (default: ``config.seed`` alone) gives K members; member k is the run of
    ``config`` with seed ``seeds[k]``: its own connectivity, weights, environment, random
    streams and homeostasis, its own episodes, and the same numbers as that run alone (the
    members share only the env-step clock, which the schedule and homeostasis follow, and
    the tensors they are computed in). :meth:`advance` simulates one 50-ms window of every
    member; ``train_step`` (one member) plays one episode. The agent acts through its
    policy (``act``, recording every step's spikes), whose state holds the networks and the
    plastic weights that the rule changes.
    """

    def __init__(self, config: STDPRLConfig, seeds: tuple[int, ...] | None = None) -> None:
        if discrete_env_spaces(config.env_id) != (4, 2):
            raise ConfigError(f"STDP-RL drives the CartPole network; {config.env_id} is not it")
        seeds = (config.seed,) if seeds is None else tuple(seeds)
        if not seeds:
            raise ConfigError("STDP-RL needs at least one seed")
        self.config = config
        self.members = [
            Member(
                seed,
                config.net.build(4, 2, seed, config.device),
                gym.make(config.env_id),
                deque(maxlen=config.train.score_episodes),
            )
            for seed in seeds
        ]
        self.policy: PaperNetworkPolicy = self.members[0].policy
        networks = [member.policy.network for member in self.members]
        self.network = networks[0] if len(networks) == 1 else stack_networks(networks)
        weights = [member.policy.initial for member in self.members]
        initial = PlasticWeights(*(torch.cat(parts) for parts in zip(*weights, strict=True)))
        self.learner = dataclasses.replace(
            self.policy, network=self.network, initial=initial, record=True
        )
        self.masks = {name: self.network.connections[name].mask for name in WEIGHT_NAMES}
        self.plastic = ["EA->EM"] + (["ES->EA"] if config.plasticity.plastic == "es_ea_em" else [])
        self.state = PaperNetworkState(initial_state(self.network, len(seeds), 1), initial)
        self.eligibility = self._empty_eligibility()
        self._take_references()
        self.gain = torch.ones(len(seeds), 3, device=config.device)  # EA, EM LEFT, EM RIGHT
        self.rates: deque[Tensor] = deque(maxlen=config.plasticity.gain_control_window)
        ends = np.cumsum([stage.env_steps for stage in config.stages])
        self.restarts = set(ends[:-1].tolist()) if config.restart_stages else set()
        self.env_steps = 0  # every member's: they step together

    @property
    def score_key(self) -> str:
        """The metric that picks best.pt: the training average, or the validation mean."""
        validated = self.config.train.checkpoint == "validated"
        return "validation_return" if validated else "average_steps"

    @property
    def keeps(self) -> Checkpoint:
        return "last" if self.config.train.checkpoint == "last" else "best"

    @property
    def iteration(self) -> int:
        """Training episodes of the (first) member: one per ``train_step``."""
        return self.members[0].episodes

    @property
    def episodes(self) -> int:
        return self.members[0].episodes

    @property
    def validation_env_steps(self) -> int:
        """Env steps of the (first) member's validation episodes, apart from ``env_steps``."""
        return self.members[0].validation_env_steps

    def weight(self, name: str) -> Tensor:
        """The dense plastic weights ``[K, pre, post]`` (mV) of connection ``name``."""
        return getattr(self.state.weights, WEIGHT_NAMES[name])

    def _set_weight(self, name: str, value: Tensor) -> None:
        weights = self.state.weights._replace(**{WEIGHT_NAMES[name]: value})
        self.state = self.state._replace(weights=weights)

    def _mask(self, name: str, member: int) -> Tensor:
        """Member ``member``'s synapse mask ``[pre, post]`` of connection ``name``."""
        mask = self.masks[name]
        return mask[member] if mask.dim() == 3 else mask

    # --- the schedule -------------------------------------------------------------------

    @property
    def budget(self) -> int:
        return sum(stage.env_steps for stage in self.config.stages)

    @property
    def progress(self) -> int:
        return min(self.env_steps, self.budget)

    def stage(self) -> Stage:
        end = 0
        for stage in self.config.stages:
            end += stage.env_steps
            if self.env_steps < end:
                return stage
        return self.config.stages[-1]

    def _member_finished(self, member: Member) -> bool:
        stop, recent = self.config.train.stop_score, member.recent
        solved = stop is not None and len(recent) > 0 and float(np.mean(recent)) >= stop
        return solved or self.env_steps >= self.budget

    def finished(self) -> bool:
        """Every member has finished (each at the end of an episode)."""
        return all(member.finished for member in self.members)

    def counters(self, k: int) -> tuple[int, int, int]:
        """Member ``k``'s iteration, env steps (the batch's clock) and episodes."""
        episodes = self.members[k].episodes
        return episodes, self.env_steps, episodes

    def stop(self, k: int) -> None:
        """Member ``k`` trains no more (e.g. it diverged); the others go on."""
        self.members[k].finished = True

    # --- one window, one episode -------------------------------------------------------

    def train_step(self) -> dict[str, float]:
        """One episode of the single member."""
        if len(self.members) > 1:
            raise ValueError("a batch of seeds trains through advance(), not train_step()")
        while True:
            for _, row in self.advance():
                return row

    def advance(self) -> list[tuple[int, dict[str, float]]]:
        """One 50-ms window and env step of every member still training; ``(member, metrics
        row)`` for each member whose episode ended with it (a member that has finished
        stays in the batch, idle: no episodes, no rewards, no rows)."""
        config, plasticity, s = self.config, self.config.plasticity, self.network.slices
        active = [not member.finished for member in self.members]
        for member, on in zip(self.members, active, strict=True):
            if on and member.generator is None:
                self._start_episode(member)
        if self.env_steps in self.restarts:
            self._restart()
        stage = self.stage()
        rules = {name: stdp_config(stage, plasticity) for name in self.plastic}
        x = torch.as_tensor(
            np.stack([member.obs for member in self.members]),
            dtype=torch.float32,
            device=config.device,
        ).view(len(self.members), 1, -1)
        generators = [member.generator or torch.Generator() for member in self.members]
        out, self.state = self.learner.act(x, None, self.state, generators)
        actions, undecided = out.actions.view(-1), out.undecided.view(-1).tolist()
        rewards, ended = np.zeros(len(self.members)), []
        for k, member in enumerate(self.members):
            if not active[k]:
                continue
            next_obs, _, terminated, truncated, _ = member.env.step(int(actions[k]))
            rewards[k] = critic_reward(member.obs, next_obs, undecided[k], stage, config.critic)
            member.rewards += rewards[k]
            member.unknown += int(undecided[k])
            member.steps += 1
            member.obs = next_obs
            if terminated or truncated:
                ended.append(k)
        update = compiled_update_eligibility() if config.net.compile else update_eligibility
        pre_post = {"ES->EA": (s["ES"], s["EA"]), "EA->EM": (s["EA"], s["EM"])}
        for name in self.plastic:
            pre, post = pre_post[name]
            spikes = (out.recorded[..., pre], out.recorded[..., post])
            self.eligibility[name] = update(
                *spikes, self.eligibility[name], rules[name], self.network.config.dt_ms
            )
        if rewards.any():
            self._reward(rewards, actions, self.eligibility, rules, stage)
        self._homeostasis(out.recorded)
        self.env_steps += 1
        if ended:  # the original clears the eligibility at each episode's end
            done = torch.zeros(len(self.members), 1, dtype=torch.bool, device=config.device)
            done[ended] = True
            self.eligibility = {
                name: reset_eligibility(state, done) for name, state in self.eligibility.items()
            }
        return [(k, self._end_episode(k)) for k in ended]

    def _start_episode(self, member: Member) -> None:
        """Episode ``k`` of a member starts from env seed ``(seed, k)``; its stream also
        breaks the vote's ties."""
        member.generator = stream(member.seed, Stream.EPISODE, member.episodes)
        member.obs, _ = member.env.reset(seed=seed_of(member.generator))
        member.rewards, member.unknown, member.steps = 0.0, 0, 0

    def _end_episode(self, k: int) -> dict[str, float]:
        """Member ``k``'s metrics row for the episode that just ended."""
        member = self.members[k]
        member.episodes += 1
        member.recent.append(member.steps)
        member.generator = None
        validation = {}
        if self.config.train.validate_every:
            validation = {
                "validation_return": self._validate(k),
                "validation_env_steps": member.validation_env_steps,
            }
        member.finished = self._member_finished(member)
        mean_weight = {
            f"mean_weight_{WEIGHT_NAMES[name]}": float(
                self.weight(name)[k][self._mask(name, k)].mean()
            )
            for name in ("EA->EM", "ES->EA")
        }
        return {
            "iteration": member.episodes,
            "env_steps": self.env_steps,
            "episodes": member.episodes,
            "steps": member.steps,
            "average_steps": float(np.mean(member.recent)),
            "critic_reward": member.rewards / member.steps,
            "undecided_fraction": member.unknown / member.steps,
            **mean_weight,
            **validation,
        }

    def _validate(self, k: int) -> float:
        """The mean return of member ``k``'s current weights on ``validation_episodes``
        episodes with plasticity off, after every ``validate_every``-th training episode;
        -1 between."""
        config, member = self.config, self.members[k]
        if member.episodes % config.train.validate_every:
            return -1.0
        result = run_episodes(
            config.env_id,
            member.policy,
            self.member_params(k)[None],
            config.train.validation_episodes,
            seed_of(stream(member.seed, Stream.VALIDATION_STARTS, member.episodes)),
            stream(member.seed, Stream.VALIDATION_ROLLOUT, member.episodes),
        )
        member.validation_env_steps += result.env_steps
        return float(result.returns.mean())

    def _empty_eligibility(self) -> dict[str, STDPState]:
        rule = stdp_config(self.config.stages[0], self.config.plasticity)
        members, device = len(self.members), self.config.device
        shapes = {name: self.masks[name].shape[-2:] for name in self.plastic}
        return {name: stdp_init(rule, members, 1, *shapes[name], device) for name in self.plastic}

    def _reward(
        self,
        rewards: np.ndarray | float,
        actions: Tensor | int,
        eligibility: dict[str, STDPState],
        rules: dict[str, STDPConfig],
        stage: Stage,
    ) -> None:
        """Targeted reward ``rewards [K]`` for ``actions [K]``: +r on each member's chosen EM
        half, -opposite r on the other; ES->EA r x f. A member with r = 0 is unchanged."""
        device = self.config.device
        r = torch.as_tensor(rewards, dtype=torch.float64, device=device).reshape(-1, 1)
        actions = torch.as_tensor(actions, device=device).reshape(-1, 1)
        half = self.network.config.em // 2
        chosen = torch.arange(2 * half, device=device) // half == actions
        targeted = torch.where(chosen, r, -stage.opposite_factor * r).float()[:, None]
        balance = None
        if self.config.plasticity.output_balancing:
            balance = homeostasis.balance_reward(
                self.weight("EA->EM"),
                self.masks["EA->EM"],
                self.initial_out,
                r.float(),
                homeostatic=self.config.plasticity.output_balancing_homeostatic,
            )
        es_ea = (self.config.plasticity.es_ea_factor * r).float()[:, None]
        scales = {"EA->EM": targeted, "ES->EA": es_ea}
        rewarded = (r != 0).view(-1, 1, 1)
        for name, state in eligibility.items():
            pre_scale = balance if name == "EA->EM" else None
            old = self.weight(name)
            new = apply_reward(old, self.masks[name], state, scales[name], rules[name], pre_scale)
            self._set_weight(name, torch.where(rewarded, new, old))

    def _take_references(self) -> None:
        """Homeostasis references from the current weights: each cell's mean incoming plastic
        weight (the normalisation target) and each EA cell's mean outgoing one (output
        balancing's baseline)."""
        self.target_in = {
            name: homeostasis.mean_incoming(self.weight(name), mask)
            for name, mask in self.masks.items()
        }
        self.initial_out = homeostasis.mean_outgoing(self.weight("EA->EM"), self.masks["EA->EM"])

    def _restart(self) -> None:
        """A stage's start as the original's new process: homeostasis references from the
        current weights, gain 1, an empty rate window, a fresh network state."""
        self._take_references()
        self.gain = torch.ones_like(self.gain)
        self.rates.clear()
        self.state = self.state._replace(network=initial_state(self.network, len(self.members), 1))

    def _homeostasis(self, spikes: Tensor) -> None:
        """Incoming-weight normalisation and slow target-rate gain control (every N steps)."""
        plasticity, network = self.config.plasticity, self.network.config
        s, half, members = self.network.slices, network.em // 2, len(self.members)
        ea = spikes[..., s["EA"]].sum((0, 2, 3)) / network.ea
        em = spikes[..., s["EM"]].sum((0, 2)).view(members, 2, half).mean(-1)
        self.rates.append(torch.cat([ea[:, None], em], dim=1) / (network.window_ms / 1000.0))
        step = self.env_steps + 1
        if plasticity.gain_control_every and step % plasticity.gain_control_every == 0:
            em_target = plasticity.target_rate_em_hz
            target = torch.tensor(
                [plasticity.target_rate_ea_hz, em_target, em_target], device=self.config.device
            )
            rate = torch.stack(list(self.rates)).mean(0)
            self.gain = homeostasis.gain_control(
                self.gain, rate, target, plasticity.gain_control_step
            )
        if plasticity.normalize_every and step % plasticity.normalize_every == 0:
            gains = {
                "ES->EA": self.gain[:, :1],
                "EA->EM": self.gain[:, 1:].repeat_interleave(half, dim=1),
            }
            for name, mask in self.masks.items():
                target = self.target_in[name] * gains[name]
                self._set_weight(
                    name, homeostasis.normalize_incoming(self.weight(name), mask, target)
                )

    # --- parameters, evaluation, checkpoints -------------------------------------------

    def member_params(self, k: int) -> Tensor:
        """Member ``k``'s plastic weights of its existing synapses, ``[1800]`` (mV)."""
        return torch.cat([self.weight(name)[k][self._mask(name, k)] for name in WEIGHT_NAMES])

    def params(self) -> Tensor:
        return self.member_params(0)

    def evaluate(
        self, params: Tensor, episodes: int, env_seed: int
    ) -> tuple[np.ndarray, dict[str, float]]:
        """Test returns with plasticity off, one fresh network state per test episode."""
        return evaluate_policy(self.config.env_id, self.policy, params, episodes, env_seed)

    def agent(self, params: Tensor, seed: int = 0) -> PolicyAgent:
        """The weights ``params`` with plasticity off."""
        generator = torch.Generator().manual_seed(seed)
        return PolicyAgent(self.policy, params.to(self.config.device), generator)

    def to_nir(self, params: Tensor) -> nir.NIRGraph:
        return self.policy.to_nir(params)

    def plots(self, folder: Path, params: Tensor) -> list[Path]:
        """The network's diagnostics (spike raster, rates, weights, actions)."""
        from neurorl.analysis.network_plots import plot_trained_network

        return plot_trained_network(
            folder, self.policy, params, self.config.env_id, self.config.eval.env_seed
        )

    def member_state_dict(self, k: int) -> dict[str, Any]:
        """Member ``k`` between two of its episodes, as the run of its seed alone saves it."""
        member, one = self.members[k], slice(k, k + 1)
        index = torch.tensor([k], device=self.config.device)
        return {
            "weights": {name: self.weight(name)[one].clone() for name in WEIGHT_NAMES},
            "target_in": {name: t[one].clone() for name, t in self.target_in.items()},
            "initial_out": self.initial_out[one].clone(),
            "gain": self.gain[k].clone(),
            "state": _plain(select_members(self.state.network, index)),
            "rates": torch.stack([r[k] for r in self.rates]) if self.rates else torch.zeros(0, 3),
            "recent": list(member.recent),
            "iteration": member.episodes,
            "env_steps": self.env_steps,
            "episodes": member.episodes,
            "validation_env_steps": member.validation_env_steps,
        }

    def state_dict(self) -> dict[str, Any]:
        return self.member_state_dict(0)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """One member's state (a batch's members resume one by one, each as its own run)."""
        if len(self.members) > 1:
            raise ValueError("a batch of seeds does not resume; resume each member's run")
        network = _restore(self.state.network, state["state"])
        weights = PlasticWeights(**{WEIGHT_NAMES[n]: w for n, w in state["weights"].items()})
        self.state = PaperNetworkState(network, weights)
        self.target_in = dict(state["target_in"])
        self.initial_out = state["initial_out"]
        self.gain = state["gain"][None]
        self.rates.clear()
        self.rates.extend(rate[None] for rate in state["rates"].unbind(0))
        member = self.members[0]
        member.recent.clear()
        member.recent.extend(state["recent"])
        member.episodes = state["episodes"]
        member.validation_env_steps = state["validation_env_steps"]
        member.generator = None
        self.env_steps = state["env_steps"]
        member.finished = self._member_finished(member)
        self.eligibility = self._empty_eligibility()


def _plain(value: Any) -> Any:
    """NamedTuples of tensors as nested dicts (``torch.load(weights_only=True)`` reads them)."""
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return {key: _plain(item) for key, item in value._asdict().items()}
    return value


def _restore(template: Any, data: Any) -> Any:
    """Inverse of :func:`_plain`, shaped by a NamedTuple ``template``."""
    if isinstance(template, tuple) and hasattr(template, "_asdict"):
        return type(template)(**{k: _restore(getattr(template, k), data[k]) for k in data})
    return data
