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
    apply_reward,
    compiled_update_eligibility,
    stdp_init,
    update_eligibility,
)
from neurorl.nets.agents import PolicyAgent
from neurorl.nets.cartpole_network import PlasticWeights, initial_state
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


class STDPRLTrainer(Trainer):
    """Online STDP-RL of one network; ``train_step`` plays and learns one episode. The agent
    acts through its policy (``policy.act``, recording every step's spikes), whose state
    holds the network and the plastic weights that the rule changes."""

    def __init__(self, config: STDPRLConfig) -> None:
        if discrete_env_spaces(config.env_id) != (4, 2):
            raise ConfigError(f"STDP-RL drives the CartPole network; {config.env_id} is not it")
        self.config = config
        self.policy: PaperNetworkPolicy = config.net.build(4, 2, config.seed, config.device)
        self.learner = dataclasses.replace(self.policy, record=True)
        self.network = self.policy.network
        self.masks = {name: self.network.connections[name].mask for name in WEIGHT_NAMES}
        initial = PlasticWeights(*(w.clone() for w in self.policy.initial))
        self.state = PaperNetworkState(initial_state(self.network, 1, 1), initial)
        self._take_references()
        self.gain = torch.ones(3, device=config.device)  # EA, EM LEFT, EM RIGHT
        self.rates: deque[Tensor] = deque(maxlen=config.plasticity.gain_control_window)
        ends = np.cumsum([stage.env_steps for stage in config.stages])
        self.restarts = set(ends[:-1].tolist()) if config.restart_stages else set()
        self.recent: deque[int] = deque(maxlen=config.train.score_episodes)
        self.iteration = self.env_steps = self.episodes = 0
        self.validation_env_steps = 0  # apart from env_steps, which the schedule runs on
        self.env = gym.make(config.env_id)

    @property
    def score_key(self) -> str:
        """The metric that picks best.pt: the training average, or the validation mean."""
        validated = self.config.train.checkpoint == "validated"
        return "validation_return" if validated else "average_steps"

    @property
    def keeps(self) -> Checkpoint:
        return "last" if self.config.train.checkpoint == "last" else "best"

    def weight(self, name: str) -> Tensor:
        """The dense plastic weights ``[1, pre, post]`` (mV) of connection ``name``."""
        return getattr(self.state.weights, WEIGHT_NAMES[name])

    def _set_weight(self, name: str, value: Tensor) -> None:
        weights = self.state.weights._replace(**{WEIGHT_NAMES[name]: value})
        self.state = self.state._replace(weights=weights)

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

    def finished(self) -> bool:
        stop = self.config.train.stop_score
        solved = stop is not None and len(self.recent) > 0 and float(np.mean(self.recent)) >= stop
        return solved or self.env_steps >= self.budget

    # --- one episode --------------------------------------------------------------------

    def train_step(self) -> dict[str, float]:
        config, plasticity, s = self.config, self.config.plasticity, self.network.slices
        generator = stream(config.seed, Stream.EPISODE, self.episodes)
        obs, _ = self.env.reset(seed=seed_of(generator))
        plastic = ["EA->EM"] + (["ES->EA"] if plasticity.plastic == "es_ea_em" else [])
        rules = {name: stdp_config(self.stage(), plasticity) for name in plastic}
        eligibility = {
            name: stdp_init(rules[name], 1, 1, *self.masks[name].shape, device=config.device)
            for name in plastic
        }
        pre_post = {"ES->EA": (s["ES"], s["EA"]), "EA->EM": (s["EA"], s["EM"])}
        rewards, unknown, steps, done = 0.0, 0, 0, False
        update = compiled_update_eligibility() if config.net.compile else update_eligibility
        while not done:
            if self.env_steps in self.restarts:
                self._restart()
            stage = self.stage()
            x = torch.as_tensor(obs, dtype=torch.float32, device=config.device).view(1, 1, -1)
            # the weights travel in the state: the policy's parameter vector is not needed
            out, self.state = self.learner.act(x, None, self.state, generator)
            action, undecided = out.actions, out.undecided
            next_obs, _, terminated, truncated, _ = self.env.step(int(action))
            done = terminated or truncated
            for name in plastic:
                rules[name] = stdp_config(stage, plasticity)
                pre, post = pre_post[name]
                spikes = (out.recorded[..., pre], out.recorded[..., post])
                eligibility[name] = update(
                    *spikes, eligibility[name], rules[name], self.network.config.dt_ms
                )
            r = critic_reward(obs, next_obs, bool(undecided), stage, config.critic)
            if r:
                self._reward(r, int(action), eligibility, rules, stage)
            self._homeostasis(out.recorded)
            rewards += r
            unknown += int(undecided)
            steps += 1
            self.env_steps += 1
            obs = next_obs
        self.iteration += 1
        self.episodes += 1
        self.recent.append(steps)
        validation = {}
        if config.train.validate_every:
            validation = {
                "validation_return": self._validate(),
                "validation_env_steps": self.validation_env_steps,
            }
        return {
            "iteration": self.iteration,
            "env_steps": self.env_steps,
            "episodes": self.episodes,
            "steps": steps,
            "average_steps": float(np.mean(self.recent)),
            "critic_reward": rewards / steps,
            "undecided_fraction": unknown / steps,
            "mean_weight_ea_em": float(self.weight("EA->EM")[:, self.masks["EA->EM"]].mean()),
            "mean_weight_es_ea": float(self.weight("ES->EA")[:, self.masks["ES->EA"]].mean()),
            **validation,
        }

    def _validate(self) -> float:
        """The mean return of the current weights on ``validation_episodes`` episodes with
        plasticity off, after every ``validate_every``-th training episode; -1 between."""
        config = self.config
        if self.episodes % config.train.validate_every:
            return -1.0
        result = run_episodes(
            config.env_id,
            self.policy,
            self.params()[None],
            config.train.validation_episodes,
            seed_of(stream(config.seed, Stream.VALIDATION_STARTS, self.episodes)),
            stream(config.seed, Stream.VALIDATION_ROLLOUT, self.episodes),
        )
        self.validation_env_steps += result.env_steps
        return float(result.returns.mean())

    def _reward(self, r: float, action: int, eligibility: dict, rules: dict, stage: Stage) -> None:
        """Targeted reward: +r on the chosen EM half, -opposite r on the other; ES->EA r x f."""
        half = self.network.config.em // 2
        device = self.config.device
        targeted = torch.full((1, 1, 2 * half), -stage.opposite_factor * r, device=device)
        targeted[..., action * half : (action + 1) * half] = r
        balance = None
        if self.config.plasticity.output_balancing:
            balance = homeostasis.balance_reward(
                self.weight("EA->EM"),
                self.masks["EA->EM"],
                self.initial_out,
                torch.tensor([[r]], device=device),
                homeostatic=self.config.plasticity.output_balancing_homeostatic,
            )
        scales = {"EA->EM": targeted, "ES->EA": self.config.plasticity.es_ea_factor * r}
        for name, state in eligibility.items():
            pre_scale = balance if name == "EA->EM" else None
            self._set_weight(
                name,
                apply_reward(
                    self.weight(name), self.masks[name], state, scales[name], rules[name], pre_scale
                ),
            )

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
        self.state = self.state._replace(network=initial_state(self.network, 1, 1))

    def _homeostasis(self, spikes: Tensor) -> None:
        """Incoming-weight normalisation and slow target-rate gain control (every N steps)."""
        plasticity, network = self.config.plasticity, self.network.config
        s, half = self.network.slices, network.em // 2
        ea = spikes[..., s["EA"]].sum() / network.ea
        em = spikes[..., s["EM"]].sum((0, 1, 2)).view(2, half).mean(-1)
        self.rates.append(torch.cat([ea[None], em]) / (network.window_ms / 1000.0))  # Hz
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
                "ES->EA": self.gain[0],
                "EA->EM": torch.cat([self.gain[1].expand(half), self.gain[2].expand(half)]),
            }
            for name, mask in self.masks.items():
                target = self.target_in[name] * gains[name]
                self._set_weight(
                    name, homeostasis.normalize_incoming(self.weight(name), mask, target)
                )

    # --- parameters, evaluation, checkpoints -------------------------------------------

    def params(self) -> Tensor:
        """The plastic weights of the existing synapses, ``[1800]`` (mV)."""
        return torch.cat([self.weight(name)[0, mask] for name, mask in self.masks.items()])

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

    def state_dict(self) -> dict[str, Any]:
        return {
            "weights": {name: self.weight(name).clone() for name in WEIGHT_NAMES},
            "target_in": {name: t.clone() for name, t in self.target_in.items()},
            "initial_out": self.initial_out.clone(),
            "gain": self.gain.clone(),
            "state": _plain(self.state.network),
            "rates": torch.stack(list(self.rates)) if self.rates else torch.zeros(0, 3),
            "recent": list(self.recent),
            "iteration": self.iteration,
            "env_steps": self.env_steps,
            "episodes": self.episodes,
            "validation_env_steps": self.validation_env_steps,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        network = _restore(self.state.network, state["state"])
        weights = PlasticWeights(**{WEIGHT_NAMES[n]: w for n, w in state["weights"].items()})
        self.state = PaperNetworkState(network, weights)
        self.target_in = dict(state["target_in"])
        self.initial_out = state["initial_out"]
        self.gain = state["gain"]
        self.rates.clear()
        self.rates.extend(state["rates"].unbind(0))
        self.recent.clear()
        self.recent.extend(state["recent"])
        self.iteration = state["iteration"]
        self.env_steps = state["env_steps"]
        self.episodes = state["episodes"]
        self.validation_env_steps = state["validation_env_steps"]


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
