"""Evolution of a policy network on a discrete-action Gymnasium task (one file, top to bottom).

Each generation: sample P members around the centre, run every member on E episodes and the
centre on its own (its score), all as one batched tensor program over a vector env, update
the centre from the members' mean returns. Random streams are derived from (seed,
generation), so a run resumed from any checkpoint continues exactly as an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path

import gymnasium as gym
import nir
import numpy as np
import torch
from torch import Tensor

from neurorl.envs import discrete_env_spaces
from neurorl.errors import ConfigError
from neurorl.experiments.common import CheckpointRule, EvalConfig, check_checkpoint_rule
from neurorl.experiments.trainer import Checkpoint, Trainer
from neurorl.learn.es import ESConfig, EvolutionStrategy
from neurorl.learn.rollout import (
    EpisodeGroup,
    RolloutResult,
    evaluate_policy,
    run_episode_groups,
    run_episodes,
)
from neurorl.nets.agents import PolicyAgent
from neurorl.nets.cartpole_policy import (
    PaperNetworkPolicy,
    PaperNetworkPolicyConfig,
    stack_policies,
)
from neurorl.nets.policies import BatchedPolicy, MLPPolicyConfig
from neurorl.streams import seed_of, stream


@dataclass(frozen=True)
class TrainConfig:
    generations: int = 100
    episodes_per_member: int = 5
    center_episodes: int | None = None  # the centre's episodes per generation (None: E)
    stop_score: float | None = 500.0  # stop when the centre's mean return reaches this
    # > 0: a centre that reaches stop_score plays this many more episodes, which must reach
    # it too (a score on a few episodes flatters); 0: its own episodes decide
    validation_episodes: int = 20
    # > 0: every this many generations, and at the last, the scored centre plays its
    # validation episodes whatever its score (model selection, as SB3's EvalCallback)
    validate_every: int = 0
    common_starts: bool = False  # all members start from the same states in a generation
    # members' episodes end after this many env steps instead of at the env's time limit
    # (the centre's score and validation keep the env's): a longer horizon than the task's
    # keeps the fitness informative once members hold the pole for the whole task
    member_max_steps: int | None = None
    # > 0: this many of each member's episodes start from states on which the centre fell
    # short of stop_score in its scoring episodes of recent generations (drawn from the last
    # replay_pool_size such starts; fresh starts while the pool is smaller): the rare starts
    # that a nearly solved task still fails get into the members' fitness (needs
    # common_starts; the centre's score stays on fresh starts)
    replay_starts: int = 0
    replay_pool_size: int = 20
    # the policy that best.pt keeps: "best", the centre with the highest score (the later of
    # equal ones); "last", the last scored centre (the ES's result, the weights that the
    # paper's ES tests; on a run that ends at its budget the best of many 10-episode scores
    # flatters the centre it picks); "validated", the centre with the highest mean over its
    # validation episodes (needs validate_every)
    checkpoint: CheckpointRule = "best"
    # generations whose scored centre is also kept (checkpoints/iteration-N.pt) and tested
    # after training with best.pt: the test mean along the run, e.g. the paper's ES at 100,
    # 200, 400 and 800 of its 1,600 iterations (one beyond the run's end is never reached)
    snapshots: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if any(n < 1 for n in self.snapshots):
            raise ValueError(f"train.snapshots must be >= 1, got {list(self.snapshots)}")
        if self.generations < 1 or self.episodes_per_member < 1:
            raise ValueError("train.generations and train.episodes_per_member must be >= 1")
        if self.validation_episodes < 0 or self.validate_every < 0:
            raise ValueError(
                "train.validation_episodes and train.validate_every must be >= 0, got "
                f"{self.validation_episodes} and {self.validate_every}"
            )
        if self.member_max_steps is not None and self.member_max_steps < 1:
            raise ValueError(f"train.member_max_steps must be >= 1, got {self.member_max_steps}")
        if not 0 <= self.replay_starts <= self.episodes_per_member or self.replay_pool_size < 1:
            raise ValueError(
                "train.replay_starts must be in [0, train.episodes_per_member] "
                f"({self.episodes_per_member}), train.replay_pool_size >= 1; got "
                f"{self.replay_starts} and {self.replay_pool_size}"
            )
        if self.replay_starts and not (self.common_starts and self.stop_score is not None):
            raise ValueError("train.replay_starts needs train.common_starts and train.stop_score")
        if self.validate_every and not self.validation_episodes:
            raise ValueError("train.validate_every needs train.validation_episodes > 0")
        check_checkpoint_rule(self.checkpoint, self.validate_every)
        center, per_member = self.center_episodes, self.episodes_per_member
        if center is not None and (center < 1 or center % per_member):
            raise ValueError(
                f"train.center_episodes ({center}) must be a positive multiple of "
                f"train.episodes_per_member ({per_member})"
            )


@dataclass(frozen=True)
class EvolutionConfig:
    env_id: str = "CartPole-v1"
    seed: int = 0
    device: str = "cpu"
    net: MLPPolicyConfig = field(default_factory=MLPPolicyConfig)
    es: ESConfig = field(default_factory=ESConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)


@dataclass(frozen=True)
class PaperNetworkEvolutionConfig(EvolutionConfig):
    """Evolution of the plastic weights of the paper's CartPole network (plasticity off)."""

    net: PaperNetworkPolicyConfig = field(default_factory=PaperNetworkPolicyConfig)


class Stream(IntEnum):
    """The random streams of an evolution run, ``stream(seed, Stream.X, generation)``."""

    INIT = 0  # the initial centre
    MEMBERS = 1  # the members' perturbations
    STARTS = 2  # the episodes' initial states
    ROLLOUT = 3  # the policies' own draws (tie-breaks) in the members' and centre's episodes
    VALIDATION_STARTS = 4
    VALIDATION_ROLLOUT = 5
    REPLAY = 6  # which of the centre's failed starts the members replay


@dataclass(frozen=True)
class Generation:
    """One generation's episodes: the members' (``population`` rows of parameters, first)
    and the centre's (from ``center_seeds``)."""

    episodes: EpisodeGroup
    population: int
    center_seeds: list[int]


class EvolutionTrainer(Trainer):
    """ES over the flat parameters of any batched policy; ``train_step`` = one generation."""

    def __init__(self, config: EvolutionConfig) -> None:
        self.config = config
        obs_dim, num_actions = discrete_env_spaces(config.env_id)
        self.policy: BatchedPolicy = config.net.build(
            obs_dim, num_actions, config.seed, config.device
        )
        center = self.policy.initial_parameters(stream(config.seed, Stream.INIT)).to(config.device)
        self.es = EvolutionStrategy(center, config.es)
        self.scored_center = center.clone()  # the centre that last_center_return belongs to
        self.iteration = 0
        self.env_steps = 0
        self.episodes = 0
        self.last_center_return = -np.inf
        self.validated = False  # the last scored centre also passed its validation episodes
        self.failed_starts: list[int] = []  # env seeds of starts the centre fell short on
        self.env_time_limit = gym.spec(config.env_id).max_episode_steps  # env steps
        if config.train.member_max_steps is not None and self.env_time_limit is None:
            raise ConfigError(
                f"train.member_max_steps needs an env with a time limit; {config.env_id} has none"
            )

    @property
    def score_key(self) -> str:
        """The metric that picks best.pt: the centre's return, or its validation return."""
        validated = self.config.train.checkpoint == "validated"
        return "validation_return" if validated else "center_return"

    @property
    def keeps(self) -> Checkpoint:
        return "last" if self.config.train.checkpoint == "last" else "best"

    @property
    def snapshots(self) -> tuple[int, ...]:
        return self.config.train.snapshots

    @property
    def budget(self) -> int:
        """Generations at most (the progress bar's total)."""
        return self.config.train.generations

    def finished(self) -> bool:
        stop = self.config.train.stop_score
        solved = stop is not None and self.last_center_return >= stop
        if self.config.train.validation_episodes:
            solved = solved and self.validated
        return solved or self.iteration >= self.budget

    def params(self) -> Tensor:
        """The centre that the last score belongs to, ``[D]`` (scored before its update)."""
        return self.scored_center.clone()

    def start_from(self, params: Tensor) -> None:
        """Put the centre at ``params [D]`` before the first generation (e.g. weights that
        another rule learned), in place of the untrained ones."""
        if self.iteration:
            raise RuntimeError("start_from() after the first generation")
        with torch.no_grad():
            self.es.center.copy_(params)
        self.scored_center = self.es.center.detach().clone()

    def parameters_finite(self) -> bool:
        """The centre that the next generation starts from (not only the scored one)."""
        return bool(torch.isfinite(self.es.center).all())

    def train_step(self) -> dict[str, float]:
        """One generation: its episodes (:meth:`generation`), then its update."""
        planned = self.generation()
        (result,) = run_episode_groups(self.config.env_id, self.policy, [planned.episodes])
        return self.conclude(planned, result)

    def generation(self) -> Generation:
        """The next generation's members (asked of the ES) and the episodes they and the
        centre play."""
        config, train, generation = self.config, self.config.train, self.iteration
        members = self.es.ask(stream(config.seed, Stream.MEMBERS, generation))
        population, episodes = len(members), train.episodes_per_member
        center_episodes = train.center_episodes or episodes
        repeats = center_episodes // episodes  # the centre's rows, E episodes each
        params = torch.cat([members, self.es.center.detach().expand(repeats, -1)])
        env_seed = seed_of(stream(config.seed, Stream.STARTS, generation))
        seeds: int | list[int] = env_seed
        center_seeds = [env_seed + episodes + i for i in range(center_episodes)]
        if train.common_starts:  # member episode e starts from seed + e; the centre's apart
            starts = [env_seed + e for e in range(episodes)]
            replayed = min(train.replay_starts, len(self.failed_starts))
            if replayed:
                picks = torch.randperm(
                    len(self.failed_starts),
                    generator=stream(config.seed, Stream.REPLAY, generation),
                )
                starts[episodes - replayed :] = [self.failed_starts[i] for i in picks[:replayed]]
            seeds = starts * population + center_seeds
        limits = None
        if train.member_max_steps is not None:
            limits = [train.member_max_steps] * (population * episodes)
            limits += [self.env_time_limit] * center_episodes
        rollout = stream(config.seed, Stream.ROLLOUT, generation)
        group = EpisodeGroup(params, episodes, seeds, rollout, limits)
        return Generation(group, population, center_seeds)

    def conclude(self, planned: Generation, result: RolloutResult) -> dict[str, float]:
        """The ES's update from the returns of :meth:`generation`'s episodes (and the scored
        centre's validation, where due); the generation's metrics row."""
        config, train, generation = self.config, self.config.train, self.iteration
        population, center_seeds = planned.population, planned.center_seeds
        member_returns = result.returns[:population]
        fitness = torch.as_tensor(member_returns.mean(1), dtype=torch.float32)
        self.scored_center = self.es.center.detach().clone()
        self.es.anneal(generation / max(train.generations - 1, 1))
        es_stats = self.es.tell(fitness.to(config.device))
        self.iteration += 1
        self.env_steps += result.env_steps
        self.episodes += result.returns.size
        center_returns = result.returns[population:].reshape(-1)  # in center_seeds' order
        self.last_center_return = float(center_returns.mean())
        if train.replay_starts:
            fell_short = [
                s for s, r in zip(center_seeds, center_returns, strict=True) if r < train.stop_score
            ]
            self.failed_starts = (self.failed_starts + fell_short)[-train.replay_pool_size :]
        validation = self._validate(generation) if train.validation_episodes else {}
        return {
            "iteration": self.iteration,
            "env_steps": self.env_steps,
            "episodes": self.episodes,
            "center_return": self.last_center_return,
            "mean_return": float(member_returns.mean()),
            "max_member_return": float(fitness.max()),
            "spikes_per_decision": result.spikes_per_decision,
            "undecided_fraction": result.undecided_fraction,
            **es_stats,
            **validation,
        }

    def _validate(self, generation: int) -> dict[str, float]:
        """Play the scored centre on ``validation_episodes`` more episodes if it reached
        ``stop_score`` or at every ``validate_every``-th (and the last) generation;
        ``validation_return`` is their mean, -1 where it did not play them."""
        train, stop = self.config.train, self.config.train.stop_score
        self.validated = False
        reached = stop is not None and self.last_center_return >= stop
        every, played = train.validate_every, generation + 1
        due = every > 0 and (played % every == 0 or played == train.generations)
        if not (reached or due):
            return {"validation_return": -1.0}
        result = run_episodes(
            self.config.env_id,
            self.policy,
            self.scored_center[None],
            train.validation_episodes,
            seed_of(stream(self.config.seed, Stream.VALIDATION_STARTS, generation)),
            stream(self.config.seed, Stream.VALIDATION_ROLLOUT, generation),
        )
        self.env_steps += result.env_steps
        self.episodes += result.returns.size
        mean = float(result.returns.mean())
        self.validated = reached and mean >= stop
        return {"validation_return": mean}

    def evaluate(
        self, params: Tensor, episodes: int, env_seed: int
    ) -> tuple[np.ndarray, dict[str, float]]:
        """Test returns ``[episodes]`` of one parameter vector, initial states from env_seed."""
        return evaluate_policy(
            self.config.env_id, self.policy, params.to(self.config.device), episodes, env_seed
        )

    def agent(self, params: Tensor, seed: int = 0) -> PolicyAgent:
        generator = torch.Generator().manual_seed(seed)
        return PolicyAgent(self.policy, params.to(self.config.device), generator)

    def to_nir(self, params: Tensor) -> nir.NIRGraph:
        return self.policy.to_nir(params)

    def plots(self, folder: Path, params: Tensor) -> list[Path]:
        """The paper network's diagnostics (spike raster, rates, weights, actions)."""
        if not isinstance(self.policy, PaperNetworkPolicy):
            return []
        from neurorl.analysis.network_plots import plot_trained_network

        return plot_trained_network(
            folder, self.policy, params, self.config.env_id, self.config.eval.env_seed
        )

    def state_dict(self) -> dict:
        return {
            "es": self.es.state_dict(),
            "iteration": self.iteration,
            "env_steps": self.env_steps,
            "episodes": self.episodes,
            "last_center_return": self.last_center_return,
            "scored_center": self.scored_center,
            "validated": self.validated,
            "failed_starts": self.failed_starts,
        }

    def load_state_dict(self, state: dict) -> None:
        self.es.load_state_dict(state["es"])
        self.iteration = state["iteration"]
        self.env_steps = state["env_steps"]
        self.episodes = state["episodes"]
        self.last_center_return = state["last_center_return"]
        self.scored_center = state["scored_center"]
        self.validated = state["validated"]
        self.failed_starts = list(state["failed_starts"])


class EvolutionSeedBatch:
    """The runs of one config with K seeds as one tensor program per env step (``neurorl
    train NAME --seeds K``): K trainers, each with its own network, ES, environments and
    random streams, whose generations' episodes run together (:func:`run_episode_groups`)
    on a stack of their networks, each network running its own seed's rows. Each run's
    numbers are those of its seed alone; the runs share only the tensors they are computed
    in. ``advance`` plays one generation of every run still training (a run that reaches its
    stop leaves the batch); the runner saves each run's folder from its ``member_*``. Needs
    the paper network's policy (a stack of networks)."""

    def __init__(self, config: EvolutionConfig, seeds: tuple[int, ...]) -> None:
        if not isinstance(config.net, PaperNetworkPolicyConfig):
            raise ConfigError("a batch of seeds of an evolution needs the paper network's policy")
        self.config = config
        self.trainers = [EvolutionTrainer(dataclasses.replace(config, seed=s)) for s in seeds]
        self.policy = stack_policies([trainer.policy for trainer in self.trainers])
        self.stopped = [False] * len(seeds)
        first = self.trainers[0]
        self.score_key, self.keeps, self.snapshots = first.score_key, first.keeps, first.snapshots
        self.budget = first.budget

    @property
    def progress(self) -> int:
        """Generations of the run furthest behind among those still training."""
        training = self._training()
        return min(self.trainers[k].iteration for k in training) if training else self.budget

    def _training(self) -> list[int]:
        return [
            k
            for k, trainer in enumerate(self.trainers)
            if not (self.stopped[k] or trainer.finished())
        ]

    def finished(self) -> bool:
        return not self._training()

    def advance(self) -> list[tuple[int, dict[str, float]]]:
        """One generation of every run still training: ``(run, metrics row)`` for each."""
        training = self._training()
        planned = [self.trainers[k].generation() for k in training]
        rows = [0] * len(self.trainers)
        for k, generation in zip(training, planned, strict=True):
            rows[k] = generation.episodes.num_envs
        results = run_episode_groups(
            self.config.env_id,
            self.policy.with_rows(rows),
            [generation.episodes for generation in planned],
        )
        return [
            (k, self.trainers[k].conclude(generation, result))
            for k, generation, result in zip(training, planned, results, strict=True)
        ]

    def counters(self, k: int) -> tuple[int, int, int]:
        """Run ``k``'s generations, env steps and episodes."""
        trainer = self.trainers[k]
        return trainer.iteration, trainer.env_steps, trainer.episodes

    def stop(self, k: int) -> None:
        """Run ``k`` trains no more (e.g. it diverged); the others go on."""
        self.stopped[k] = True

    def member_params(self, k: int) -> Tensor:
        return self.trainers[k].params()

    def member_state_dict(self, k: int) -> dict:
        """Run ``k``'s trainer state, as the run of its seed alone saves it."""
        return self.trainers[k].state_dict()
