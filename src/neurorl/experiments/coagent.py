"""Neuron-level RL (Aenugu 2020): one online actor-critic loop, three actors.

- ``coagent``: a population of coagent spiking networks (:mod:`neurorl.learn.coagent`), each
  unit updated by REINFORCE on its own log-probability times the critic's broadcast TD error;
  the population votes, epsilon-greedy on top.
- ``reparam``: a stochastic spiking network with binary-Concrete relaxed spikes
  (:mod:`neurorl.learn.reparam`) trained end to end by the policy gradient
  ``-delta grad log pi(a|s)``.
- ``ann``: the same policy gradient on a tanh MLP with a softmax output (the non-spiking
  baseline), under the same critic.

The critic (:mod:`neurorl.learn.critics`) is linear TD(lambda) on a Fourier basis or a table,
or a small neural TD(0) critic. Learning is online: after every env step the critic forms
``delta = r + gamma V(s') - V(s)`` (a time-limit end bootstraps) and the actor learns from it.

One iteration plays ``train.num_envs`` episodes in lockstep (a vector env, each env's first
episode, from a start seed drawn for the iteration); every random draw comes from
``stream(seed, Streams.X, iteration)``, so a run resumed from a checkpoint continues exactly
as an uninterrupted one. The score that picks best.pt is the mean (discounted) return of the
last 100 training episodes, or with ``train.score=validation`` the mean return of the last
validation, whose parameters ``params()`` then gives: validation runs the greedy policy on
episodes from seeds of their own, so best.pt keeps the best validated policy.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any, Literal

import gymnasium as gym
import nir
import numpy as np
import torch
from torch import Tensor, nn

import neurorl.envs.gridworld  # registers neurorl/Gridworld-v0
from neurorl.config import require
from neurorl.core import configure_cpu
from neurorl.core.encoders import gaussian_population
from neurorl.core.stochastic import StochasticParameters
from neurorl.envs import env_spaces
from neurorl.errors import NotExportableError
from neurorl.experiments.common import EvalConfig
from neurorl.experiments.registry import Experiment, register
from neurorl.experiments.trainer import Checkpoint, Trainer
from neurorl.learn.coagent import (
    CoagentNetwork,
    LayerRecord,
    Unchosen,
    UnitKind,
    choose_actions,
    network_bytes,
    signed_deltas,
    towards_fractions,
)
from neurorl.learn.critics import (
    Critic,
    FourierCritic,
    NeuralCritic,
    TabularCritic,
    check_fits,
    check_fourier_size,
)
from neurorl.learn.reparam import RelaxedSpikingActor, temperature_at
from neurorl.learn.rollout import make_vector_env
from neurorl.streams import seed_of, stream


class Streams(IntEnum):
    INIT = 0  # initial weights
    STARTS = 1  # the iteration's env start seed
    ACTING = 2  # spikes, votes, exploration of an iteration
    VALIDATION = 3  # validation episodes' starts
    POLICY = 4  # a test's spikes (keyed by the test's env seed)


Encoding = Literal["scaled", "population"]
ActorKind = Literal["coagent", "reparam", "ann"]


# --- config ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActorConfig:
    kind: ActorKind = "coagent"
    hidden: tuple[int, ...] = (200,)  # hidden units per layer (coagent: per action module)
    learning_rate: float = 1e-3
    # Box observations: "scaled" into [-1, 1] by obs_bounds, or "population" coded by
    # population_fields Gaussian receptive fields per dim; Discrete ones are one-hot
    encoding: Encoding = "scaled"
    population_fields: int = 10
    # coagent
    unit: UnitKind = "bernoulli"
    population: int = 10  # actor networks that vote
    epsilon: float = 0.1
    unchosen: Unchosen = "companion"
    # the test policy's units: "sample" their spikes (the trained stochastic policy) or emit
    # their most probable output ("mode", deterministic)
    test_spikes: Literal["sample", "mode"] = "sample"
    init_scale: float = 1.0  # first weights U(-s, s) / sqrt(fan in)
    # spiking in time (coagent unit "lif" and reparam): T steps of escape-noise LIF
    steps: int = 5
    beta: float = 0.8
    threshold: float = 1.0
    escape_temperature: float = 0.3
    # reparam: binary-Concrete relaxation temperature, exponential from start to end over
    # the training episodes; straight-through takes hard spikes forward
    temperature_start: float = 1.0
    temperature_end: float = 0.1
    straight_through: bool = False

    def __post_init__(self) -> None:
        counts = ("population", "steps", "population_fields")
        require(self, "actor", counts, lambda v: v >= 1, ">= 1")
        if not self.hidden or min(self.hidden) < 1:
            raise ValueError(f"actor.hidden must be one or more sizes >= 1, got {self.hidden}")
        require(self, "actor", ("epsilon", "beta"), lambda v: 0.0 <= v <= 1.0, "in [0, 1]")
        positive = ("learning_rate", "init_scale", "escape_temperature")
        require(self, "actor", positive, lambda v: v > 0, "> 0")
        temperatures = ("temperature_start", "temperature_end")
        require(self, "actor", temperatures, lambda v: v > 0, "> 0 (a relaxation temperature)")

    def neuron(self) -> StochasticParameters:
        return StochasticParameters(
            beta=self.beta, threshold=self.threshold, temperature=self.escape_temperature
        )


@dataclass(frozen=True)
class CriticConfig:
    kind: Literal["fourier", "tabular", "neural"] = "fourier"
    order: int = 5  # Fourier basis order
    lam: float = 0.5  # TD(lambda) trace decay (linear critics)
    learning_rate: float = 1e-3
    hidden: int = 64  # neural critic

    def __post_init__(self) -> None:
        require(self, "critic", ("order", "hidden"), lambda v: v >= 0, ">= 0")
        require(self, "critic", ("lam",), lambda v: 0.0 <= v <= 1.0, "in [0, 1]")
        require(self, "critic", ("learning_rate",), lambda v: v > 0, "> 0")


@dataclass(frozen=True)
class ACTrainConfig:
    episodes: int = 2000  # training episodes (the budget)
    num_envs: int = 1  # episodes played in lockstep per iteration
    gamma: float = 1.0
    # stop once the score reaches this; with validation, once the validation mean does
    stop_score: float | None = None
    validate_every: int = 0  # iterations between greedy validation runs (0: none)
    validation_episodes: int = 0
    checkpoint: Literal["best", "last"] = "best"
    # the score: the running mean over the last 100 training episodes of the return, or of
    # the discounted return (where every episode ends with the same reward); or the mean
    # return of the last validation ("validation", needs validate_every)
    score: Literal["return", "discounted_return", "validation"] = "return"

    def __post_init__(self) -> None:
        require(self, "train", ("episodes", "num_envs"), lambda v: v >= 1, ">= 1")
        require(self, "train", ("gamma",), lambda v: 0.0 <= v <= 1.0, "in [0, 1]")
        counts = ("validate_every", "validation_episodes")
        require(self, "train", counts, lambda v: v >= 0, ">= 0")
        if self.validate_every and not self.validation_episodes:
            raise ValueError("train.validate_every needs train.validation_episodes > 0")
        if self.score == "validation" and not self.validate_every:
            raise ValueError("train.score=validation needs train.validate_every > 0")


@dataclass(frozen=True)
class ActorCriticConfig:
    env_id: str = "CartPole-v1"
    max_episode_steps: int | None = None  # replaces the env's time limit
    # low0,high0,low1,high1,...: the box the Fourier basis and the scaled codes map to
    # [0, 1] (needed where the env's observation space is unbounded)
    obs_bounds: tuple[float, ...] = ()
    seed: int = 0
    device: str = "cpu"
    actor: ActorConfig = field(default_factory=ActorConfig)
    critic: CriticConfig = field(default_factory=CriticConfig)
    train: ACTrainConfig = field(default_factory=ACTrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def __post_init__(self) -> None:
        if self.max_episode_steps is not None and self.max_episode_steps < 1:
            raise ValueError(f"max_episode_steps must be >= 1, got {self.max_episode_steps}")
        observation_space, action_space = env_spaces(self.env_id)
        if not isinstance(action_space, gym.spaces.Discrete):
            raise ValueError(f"this experiment needs a discrete action space; got {action_space}")
        discrete = isinstance(observation_space, gym.spaces.Discrete)
        if (self.critic.kind == "tabular") != discrete and self.critic.kind != "neural":
            raise ValueError(
                f"critic.kind={self.critic.kind} does not fit {self.env_id}'s observation "
                f"space {observation_space} (tabular: Discrete; fourier: Box)"
            )
        if discrete:
            inputs = int(observation_space.n)
        else:
            bounds(self, observation_space)  # raises if unbounded and no obs_bounds given
            dims = int(np.prod(observation_space.shape))
            per_dim = self.actor.population_fields if self.actor.encoding == "population" else 1
            inputs = dims * per_dim
            if self.critic.kind == "fourier":
                check_fourier_size(self.critic.order, dims, self.train.num_envs)
        actor, actions = self.actor, int(action_space.n)
        if actor.kind == "coagent":
            sizes = [inputs, *actor.hidden, 1]
            steps = actor.steps if actor.unit == "lif" else 1
            needed = network_bytes(sizes, actor.population, actions, self.train.num_envs, steps)
            check_fits(
                f"a coagent population of {actor.population} x {actions} modules {sizes}",
                needed,
            )
        else:
            sizes = [inputs, *actor.hidden, actions]
            weights = sum(i * o + o for i, o in itertools.pairwise(sizes))
            # float32 weights, their gradients and Adam's two moments
            check_fits(f"a {actor.kind} actor network {sizes}", 4 * 4 * weights)


def bounds(config: ActorCriticConfig, space: gym.spaces.Box) -> tuple[Tensor, Tensor]:
    """``(low, high)`` of the observation box: ``obs_bounds`` or the env's own finite ones;
    ValueError naming the unbounded dims when neither is there."""
    dims = int(np.prod(space.shape))
    if config.obs_bounds:
        if len(config.obs_bounds) != 2 * dims:
            raise ValueError(
                f"obs_bounds must hold low,high for each of the {dims} observation dims "
                f"({2 * dims} numbers), got {len(config.obs_bounds)}"
            )
        pairs = torch.tensor(config.obs_bounds, dtype=torch.float32).view(dims, 2)
        low, high = pairs[:, 0], pairs[:, 1]
        if not bool((high > low).all()):
            raise ValueError(f"obs_bounds: every high must exceed its low, got {config.obs_bounds}")
        return low, high
    low = torch.as_tensor(space.low, dtype=torch.float32).flatten()
    high = torch.as_tensor(space.high, dtype=torch.float32).flatten()
    unbounded = torch.nonzero(~(low.isfinite() & high.isfinite())).flatten().tolist()
    if unbounded:
        raise ValueError(
            f"{config.env_id}'s observation space is unbounded in dims {unbounded}; give "
            f"bounds for the Fourier basis and the input code: obs_bounds=low0,high0,... "
            f"({2 * dims} numbers)"
        )
    return low, high


# --- observation codes ----------------------------------------------------------------------------


class ObservationCode:
    """What the actor and the critic read: Discrete -> one-hot; Box -> scaled into [-1, 1]
    by the bounds, or Gaussian population codes of the scaled value."""

    def __init__(self, config: ActorCriticConfig, space: gym.Space) -> None:
        self.discrete = isinstance(space, gym.spaces.Discrete)
        self.fields = config.actor.population_fields
        self.encoding = config.actor.encoding
        if self.discrete:
            self.states, self.size = int(space.n), int(space.n)
            return
        self.low, self.high = bounds(config, space)
        dims = len(self.low)
        self.size = dims * (self.fields if self.encoding == "population" else 1)
        self.centres = torch.linspace(0.0, 1.0, self.fields).expand(dims, -1)
        self.widths = torch.full((dims, self.fields), 1.0 / max(self.fields - 1, 1))

    def unit(self, obs: np.ndarray) -> Tensor:
        """Observations in [0, 1] per dim (Box) or as one-hot rows (Discrete)."""
        obs = torch.as_tensor(obs)
        if self.discrete:
            return nn.functional.one_hot(obs.long().flatten(), self.states).float()
        obs = obs.float().reshape(len(obs), -1)
        return ((obs - self.low) / (self.high - self.low)).clamp(0.0, 1.0)

    def actor_input(self, obs: np.ndarray) -> Tensor:
        unit = self.unit(obs)
        if self.discrete:
            return unit
        if self.encoding == "population":
            return gaussian_population(unit, self.centres, self.widths)
        return 2 * unit - 1


# --- actors ---------------------------------------------------------------------------------------


class CoagentActor:
    """The population of coagent networks (:class:`CoagentNetwork`)."""

    def __init__(self, config: ActorConfig, inputs: int, actions: int, generator) -> None:
        self.config = config
        self.network = CoagentNetwork(
            inputs,
            config.hidden,
            actions,
            config.population,
            config.unit,
            config.steps,
            config.neuron(),
            config.init_scale,
            generator,
        )

    def act(self, code: Tensor, generator, explore: bool) -> tuple[Tensor, Any]:
        mode = not explore and self.config.test_spikes == "mode"
        votes, records = self.network.forward(code, generator, mode)
        epsilon = self.config.epsilon if explore else 0.0
        actions, _ = choose_actions(votes, epsilon, generator)
        return actions, records

    def learn(
        self, delta: Tensor, actions: Tensor, records: list[LayerRecord], diagnose: bool
    ) -> dict[str, float]:
        network = self.network
        signed = signed_deltas(delta, actions, network.fired(records), self.config.unchosen)
        before = network.log_probabilities(records) if diagnose else []
        network.update(records, signed, self.config.learning_rate)
        metrics = {f"rate_layer{i}": r for i, r in enumerate(network.firing_rates(records))}
        if diagnose:
            after = network.log_probabilities(records)
            fractions = towards_fractions(before, after, signed)
            metrics.update({f"towards_layer{i}": f for i, f in enumerate(fractions)})
        return metrics

    def vector(self) -> Tensor:
        return self.network.to_vector()

    def load_vector(self, vector: Tensor) -> None:
        self.network.load_vector(vector)

    def state_dict(self) -> dict:
        return {"vector": self.vector()}

    def load_state_dict(self, state: dict) -> None:
        self.load_vector(state["vector"])


class GradientActor:
    """A softmax policy trained by ``-delta log pi(a|s)`` with Adam: a tanh MLP (``ann``) or
    the relaxed spiking network (``reparam``)."""

    def __init__(self, config: ActorConfig, inputs: int, actions: int, generator) -> None:
        self.config = config
        with torch.random.fork_rng():
            torch.manual_seed(int(torch.randint(2**31, (), generator=generator)))
            if config.kind == "reparam":
                self.net: nn.Module = RelaxedSpikingActor(
                    inputs,
                    config.hidden,
                    actions,
                    config.steps,
                    config.neuron(),
                    config.straight_through,
                )
            else:
                sizes = [inputs, *config.hidden]
                layers: list[nn.Module] = []
                for i, o in itertools.pairwise(sizes):
                    layers += [nn.Linear(i, o), nn.Tanh()]
                self.net = nn.Sequential(*layers, nn.Linear(sizes[-1], actions))
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=config.learning_rate)

    def set_progress(self, fraction: float) -> None:
        """The relaxation temperature at this fraction of the training budget."""
        if isinstance(self.net, RelaxedSpikingActor):
            c = self.config
            self.net.tau = temperature_at(fraction, c.temperature_start, c.temperature_end)

    def logits(self, code: Tensor, generator) -> tuple[Tensor, list[Tensor]]:
        if isinstance(self.net, RelaxedSpikingActor):
            return self.net(code, generator)
        return self.net(code), []

    def act(self, code: Tensor, generator, explore: bool) -> tuple[Tensor, Any]:
        with torch.set_grad_enabled(explore):
            logits, rates = self.logits(code, generator)
        if not explore:
            return logits.argmax(-1), rates
        distribution = torch.distributions.Categorical(logits=logits)
        uniform = torch.rand(len(code), 1, generator=generator)
        actions = (
            (distribution.probs.detach().cumsum(-1) < uniform)
            .sum(-1)
            .clamp(max=logits.shape[-1] - 1)
        )
        return actions, (distribution, rates)

    def learn(
        self, delta: Tensor, actions: Tensor, context: Any, diagnose: bool
    ) -> dict[str, float]:
        distribution, rates = context
        loss = -(delta * distribution.log_prob(actions)).sum()
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        metrics = {f"rate_layer{i}": float(r.detach().mean()) for i, r in enumerate(rates)}
        if isinstance(self.net, RelaxedSpikingActor):
            metrics["temperature"] = self.net.tau
        return metrics

    def vector(self) -> Tensor:
        return nn.utils.parameters_to_vector(self.net.parameters()).detach().clone()

    def load_vector(self, vector: Tensor) -> None:
        nn.utils.vector_to_parameters(vector, self.net.parameters())

    def state_dict(self) -> dict:
        return {
            "net": self.net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "tau": getattr(self.net, "tau", 1.0),
        }

    def load_state_dict(self, state: dict) -> None:
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])
        if isinstance(self.net, RelaxedSpikingActor):
            self.net.tau = state["tau"]


Actor = CoagentActor | GradientActor


def build_actor(config: ActorConfig, inputs: int, actions: int, generator) -> Actor:
    kind = CoagentActor if config.kind == "coagent" else GradientActor
    return kind(config, inputs, actions, generator)


# --- the trainer ----------------------------------------------------------------------------------

DIAGNOSE_EVERY = 25  # lockstep env steps between measurements of the units' update directions
SCORE_WINDOW = 100  # training episodes in the score's running mean


class PolicyAgent:
    """A trained actor as an SB3-style agent (greedy: no exploration)."""

    def __init__(self, actor: Actor, code: ObservationCode, seed: int) -> None:
        self.actor, self.code = actor, code
        self.generator = torch.Generator().manual_seed(seed)

    def predict(self, observation: Any, state: Any = None, deterministic: bool = True):
        batch = np.asarray(observation)
        single = batch.ndim == (0 if self.code.discrete else 1)
        obs = batch[None] if single else batch
        with torch.no_grad():
            actions, _ = self.actor.act(self.code.actor_input(obs), self.generator, explore=False)
        actions = actions.numpy()
        return (actions[0] if single else actions), state


class ActorCriticTrainer(Trainer):
    """Online actor-critic with a coagent, relaxed-spiking or ANN actor (module docstring)."""

    def __init__(self, config: ActorCriticConfig) -> None:
        configure_cpu()
        self.config = config
        observation_space, action_space = env_spaces(config.env_id)
        self.code = ObservationCode(config, observation_space)
        self.num_actions = int(action_space.n)
        self.actor = build_actor(
            config.actor, self.code.size, self.num_actions, stream(config.seed, Streams.INIT)
        )
        self.critic = self.build_critic()
        self.env = make_vector_env(config.env_id, config.train.num_envs, config.max_episode_steps)
        self.iteration = self.env_steps = self.episodes = 0
        self.recent: list[float] = []
        self.validation_return = float("nan")
        self.validated = self.actor.vector()  # the parameters of the last validation

    def build_critic(self) -> Critic:
        c, train = self.config.critic, self.config.train
        if c.kind == "tabular":
            return TabularCritic(
                self.code.size, train.num_envs, train.gamma, c.lam, c.learning_rate
            )
        if c.kind == "fourier":
            return FourierCritic(
                c.order,
                self.code.low,
                self.code.high,
                train.num_envs,
                train.gamma,
                c.lam,
                c.learning_rate,
            )
        inputs = self.code.size if self.code.discrete else len(self.code.low)
        generator = stream(self.config.seed, Streams.INIT, 1)
        return NeuralCritic(inputs, c.hidden, train.gamma, c.learning_rate, generator)

    def critic_input(self, obs: np.ndarray) -> Tensor:
        """Fourier and tabular critics read raw observations; the neural one the unit box."""
        if isinstance(self.critic, NeuralCritic):
            return self.code.unit(obs)
        return torch.as_tensor(obs, dtype=torch.float32).reshape(len(obs), -1)

    # --- the runner's protocol -----------------------------------------------------------

    @property
    def score_key(self) -> str:
        score = self.config.train.score
        return "validation_return" if score == "validation" else f"train_{score}_100"

    @property
    def keeps(self) -> Checkpoint:
        return self.config.train.checkpoint

    @property
    def budget(self) -> int:
        return self.config.train.episodes

    @property
    def progress(self) -> int:
        return self.episodes

    def finished(self) -> bool:
        train = self.config.train
        if self.episodes >= self.budget:
            return True
        if train.stop_score is None:
            return False
        if train.validate_every:
            return self.validation_return >= train.stop_score
        return len(self.recent) >= SCORE_WINDOW and np.mean(self.recent) >= train.stop_score

    def params(self) -> Tensor:
        """The actor's parameters; with ``train.score=validation`` those of the last
        validation, which its score belongs to."""
        if self.config.train.score == "validation":
            return self.validated
        return self.actor.vector()

    def parameters_finite(self) -> bool:
        return bool(torch.isfinite(self.actor.vector()).all())

    def train_step(self) -> dict[str, float]:
        train = self.config.train
        generator = stream(self.config.seed, Streams.ACTING, self.iteration)
        if isinstance(self.actor, GradientActor):
            self.actor.set_progress(self.episodes / train.episodes)
        start_seed = seed_of(stream(self.config.seed, Streams.STARTS, self.iteration))
        obs, _ = self.env.reset(seed=start_seed)
        self.critic.start(torch.arange(train.num_envs))
        alive = np.ones(train.num_envs, dtype=bool)
        returns = np.zeros(train.num_envs)
        discounted = np.zeros(train.num_envs)
        lengths = np.zeros(train.num_envs, dtype=np.int64)
        sums: dict[str, float] = {}
        counts: dict[str, int] = {}
        deltas = []
        step = 0
        while alive.any():
            rows = np.flatnonzero(alive)
            actions = np.zeros(train.num_envs, dtype=np.int64)
            chosen, context = self.actor.act(self.code.actor_input(obs[rows]), generator, True)
            actions[rows] = chosen.numpy()
            next_obs, reward, terminated, truncated, _ = self.env.step(actions)
            live = torch.as_tensor(alive, dtype=torch.float32)
            delta = self.critic.update(
                self.critic_input(obs),
                self.critic_input(next_obs),
                torch.as_tensor(reward, dtype=torch.float32),
                torch.as_tensor(terminated, dtype=torch.float32),
                live,
            )
            diagnose = step % DIAGNOSE_EVERY == 0  # the first step of each iteration too
            step += 1
            metrics = self.actor.learn(delta[rows], chosen, context, diagnose)
            for key, value in metrics.items():
                sums[key] = sums.get(key, 0.0) + value
                counts[key] = counts.get(key, 0) + 1
            deltas.append(float(delta[rows].abs().mean()))
            returns += np.where(alive, reward, 0.0)
            discounted += np.where(alive, train.gamma**lengths * reward, 0.0)
            lengths += alive
            self.env_steps += len(rows)
            alive &= ~(terminated | truncated)
            obs = next_obs
        self.iteration += 1
        self.episodes += train.num_envs
        scores = discounted if train.score == "discounted_return" else returns
        self.recent = (self.recent + scores.tolist())[-SCORE_WINDOW:]
        row: dict[str, float] = {
            "iteration": self.iteration,
            "episodes": self.episodes,
            "env_steps": self.env_steps,
            "train_return": float(returns.mean()),
            "train_length": float(lengths.mean()),
            "train_discounted_return": float(discounted.mean()),
            self.score_key: float(np.mean(self.recent)),
            "td_error_abs": float(np.mean(deltas)),
        }
        row.update({key: sums[key] / counts[key] for key in sorted(sums)})
        if train.validate_every:
            # the first iteration validates too: every row has a finite validation mean
            due = (self.iteration - 1) % train.validate_every == 0
            if due or self.episodes >= self.budget:
                seed = seed_of(stream(self.config.seed, Streams.VALIDATION, self.iteration))
                self.validated = self.actor.vector()
                returns, _ = self.evaluate(self.validated, train.validation_episodes, seed)
                self.validation_return = float(returns.mean())
            row["validation_return"] = self.validation_return
        return row

    def state_dict(self) -> dict[str, Any]:
        return {
            "actor": self.actor.state_dict(),
            "critic": self.critic.state_dict(),
            "iteration": self.iteration,
            "env_steps": self.env_steps,
            "episodes": self.episodes,
            "recent": list(self.recent),
            "validation_return": self.validation_return,
            "validated": self.validated,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.actor.load_state_dict(state["actor"])
        self.critic.load_state_dict(state["critic"])
        self.iteration, self.env_steps = state["iteration"], state["env_steps"]
        self.episodes, self.recent = state["episodes"], list(state["recent"])
        self.validation_return = state["validation_return"]
        self.validated = state["validated"]

    # --- the trained policy --------------------------------------------------------------------

    def actor_with(self, params: Tensor) -> Actor:
        actor = copy.deepcopy(self.actor)
        actor.load_vector(params)
        return actor

    def evaluate(
        self, params: Tensor, episodes: int, env_seed: int
    ) -> tuple[np.ndarray, dict[str, float]]:
        """Greedy returns ``[episodes]`` (no exploration; coagent units still sample their
        spikes, from a stream keyed by ``env_seed``), every env's first episode."""
        actor = self.actor_with(params)
        generator = stream(self.config.seed, Streams.POLICY, env_seed)
        env = make_vector_env(self.config.env_id, episodes, self.config.max_episode_steps)
        try:
            obs, _ = env.reset(seed=env_seed)
            alive = np.ones(episodes, dtype=bool)
            returns = np.zeros(episodes)
            lengths = np.zeros(episodes, dtype=np.int64)
            ended = np.zeros(episodes, dtype=bool)  # terminated (e.g. at a goal), not truncated
            while alive.any():
                rows = np.flatnonzero(alive)
                actions = np.zeros(episodes, dtype=np.int64)
                with torch.no_grad():
                    chosen, _ = actor.act(self.code.actor_input(obs[rows]), generator, False)
                actions[rows] = chosen.numpy()
                obs, reward, terminated, truncated, _ = env.step(actions)
                returns += np.where(alive, reward, 0.0)
                lengths += alive
                ended |= alive & terminated
                alive &= ~(terminated | truncated)
        finally:
            env.close()
        return returns, {
            "mean_length": float(lengths.mean()),
            "terminated_fraction": float(ended.mean()),
        }

    def agent(self, params: Tensor, seed: int = 0) -> PolicyAgent:
        return PolicyAgent(self.actor_with(params), self.code, seed)

    def to_nir(self, params: Tensor) -> nir.NIRGraph:
        raise NotExportableError(
            "stochastic coagent and relaxed spiking units have no NIR node type"
        )

    def plots(self, folder: Path, params: Tensor) -> list[Path]:
        """Per-layer firing rates and the fraction of units whose update moved them towards
        what they emitted (by the sign of their TD error), over training."""
        from neurorl.analysis.coagent_plots import plot_unit_learning

        return plot_unit_learning(folder.parent / "metrics.csv", folder)


# --- the experiments ------------------------------------------------------------------------------

# The companion code's settings (shared/design/papers/aenugu2020.md), with these departures,
# chosen on validation seeds 100-106 (docs/aenugu2020/README.md): the gridworld's actor
# steps at 0.05 (0.01 in the code), its modules read a one-hot cell code (the code: a
# combinatorial +-1 code through a 3-tap GLM filter); CartPole-v1 discounts by 0.99 (the
# code: 1 on CartPole-v0's 200 steps), plays 16 episodes in lockstep with both step sizes at
# 3e-4 (the code: one episode, 1e-3, dropping the actor's to 1e-5 once it balances) and
# scales the inputs into [-1, 1] by the Fourier bounds; MountainCar plays 4 in lockstep and
# keeps the policy with the best mean return on 20 validation episodes after each iteration.
# CartPole: the companion code's bounds of the Fourier basis (x, v, theta, omega)
CARTPOLE_BOUNDS = (-3.0, 3.0, -10.0, 10.0, -np.pi / 2, np.pi / 2, -np.pi, np.pi)
TASKS: dict[str, dict[str, Any]] = {
    "gridworld": {
        "env_id": neurorl.envs.gridworld.ENV_ID,
        "critic": CriticConfig(kind="tabular", lam=0.7, learning_rate=0.1),
        "train": ACTrainConfig(episodes=500, gamma=0.9, score="discounted_return"),
        "actor": {"hidden": (2,), "learning_rate": 0.05, "epsilon": 0.01},
    },
    "cartpole": {
        "env_id": "CartPole-v1",
        "obs_bounds": CARTPOLE_BOUNDS,
        "critic": CriticConfig(order=5, lam=0.5, learning_rate=3e-4),
        "train": ACTrainConfig(episodes=2000, num_envs=16, gamma=0.99),
        "actor": {"hidden": (200,), "learning_rate": 3e-4},
    },
    "mountaincar": {
        "env_id": "MountainCar-v0",
        "max_episode_steps": 5000,
        "critic": CriticConfig(order=4, lam=0.5, learning_rate=0.01),
        # the best validated policy: over 100 episodes the running mean's window never
        # fills (its early, short windows flatter the first policies), and a policy that
        # reached the goal can fall apart in the last iterations
        "train": ACTrainConfig(
            episodes=100,
            num_envs=4,
            validate_every=1,
            validation_episodes=20,
            score="validation",
        ),
        "actor": {
            "hidden": (5,),
            "learning_rate": 0.1,
            "population": 20,
            "encoding": "population",
            "population_fields": 10,
        },
    },
}
ACTOR_VARIANTS: dict[str, dict[str, Any]] = {
    "coagent": {"kind": "coagent"},
    "reparam": {"kind": "reparam", "hidden": (64,), "learning_rate": 1e-3},
    "ann": {"kind": "ann", "hidden": (64,), "learning_rate": 1e-3},
}
DESCRIPTIONS = {
    "coagent": "a population of coagent networks (Bernoulli +-1 units, each learning by "
    "REINFORCE on a broadcast TD error, Aenugu 2020)",
    "reparam": "a stochastic LIF network with binary-Concrete relaxed spikes trained end to "
    "end by the policy gradient (Aenugu 2020)",
    "ann": "a tanh MLP softmax actor (non-spiking baseline)",
}
CRITIC_NAMES = {"tabular": "tabular TD(lambda)", "fourier": "Fourier TD(lambda)"}


def task_config(task: str, variant: str) -> Callable[[], ActorCriticConfig]:
    def make() -> ActorCriticConfig:
        spec = dict(TASKS[task])
        actor = dict(spec.pop("actor"))
        if variant != "coagent":
            actor = {k: v for k, v in actor.items() if k in ("encoding", "population_fields")}
        return ActorCriticConfig(**spec, actor=ActorConfig(**actor, **ACTOR_VARIANTS[variant]))

    return make


for _task, _spec in TASKS.items():
    for _variant in ACTOR_VARIANTS:
        _name = f"{_task}-{_variant}" if _variant != "ann" else f"{_task}-ann-ac"
        register(
            Experiment(
                _name,
                f"{_spec['env_id']}, online actor-critic: {DESCRIPTIONS[_variant]}; "
                f"{CRITIC_NAMES[_spec['critic'].kind]} critic",
                task_config(_task, _variant),
                ActorCriticTrainer,
            )
        )
