"""neurorl from Python, in Stable-Baselines3's and Gymnasium's verbs.

    model = neurorl.make("cartpole-snn-es", {"train.generations": 10}, seed=0)
    model.learn()                          # trains into a run folder, as ``neurorl train``
    policy = neurorl.load(model.run_dir)   # the policy that best.pt keeps
    action, state = policy.predict(obs)
    neurorl.evaluate(policy, episodes=100, seed=42)

A run folder is the unit of saving: ``learn`` writes it (config, metrics, checkpoints,
plots, results), ``load`` reads it back; the CLI and this API share it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np

from neurorl.core import configure_cpu
from neurorl.errors import NeurorlError
from neurorl.experiments import runner
from neurorl.experiments.registry import get_experiment
from neurorl.experiments.trainer import Agent


class Model:
    """An experiment by name with its config overrides (dotted keys, as ``--set``)."""

    def __init__(self, name: str, overrides: Mapping[str, Any]) -> None:
        self.experiment = get_experiment(name)
        self.overrides = dict(overrides)
        self.config = runner.resolve_config(self.experiment, self.overrides)
        self.run_dir: Path | None = None
        self._policy: Policy | None = None  # the trained policy, loaded at the first predict

    def learn(self, out: str | Path = "runs", quiet: bool = True) -> Model:
        """Train into a new run folder under ``out`` (``self.run_dir``): to the experiment's
        budget or stop, then test the kept policy (results.json), plot and export it."""
        run = runner.create_run(self.experiment.name, self.overrides, Path(out))
        self.run_dir, self._policy = runner.train(run, quiet), None
        return self

    def predict(
        self, observation: Any, state: Any = None, deterministic: bool = True
    ) -> tuple[Any, Any]:
        """The trained policy's ``predict`` (see :class:`Policy`)."""
        if self.run_dir is None:
            raise NeurorlError("predict() needs a trained model: call learn() first")
        if self._policy is None:
            self._policy = load(self.run_dir)
        return self._policy.predict(observation, state, deterministic)


def make(
    name: str, overrides: Mapping[str, Any] | None = None, *, seed: int | None = None, **keys: Any
) -> Model:
    """The experiment ``name`` (see ``neurorl list``) with dotted-key ``overrides`` and
    top-level keys such as ``seed=`` or ``device=``; a bad name, key or value raises
    :class:`~neurorl.errors.ConfigError`."""
    settings = {**(overrides or {}), **keys}
    if seed is not None:
        settings["seed"] = seed
    return Model(name, settings)


class Policy:
    """A run's kept policy (best.pt), learning off. ``predict`` is Stable-Baselines3's;
    ``act`` keeps a recurrent network's state itself between ``reset`` calls."""

    def __init__(self, run_dir: Path, device: str | None = None, seed: int = 0) -> None:
        configure_cpu()
        self.run = runner.open_run(Path(run_dir), device)
        self.trainer = self.run.make_trainer()
        checkpoint = runner.best_checkpoint(self.run)
        self.params = checkpoint["params"]
        self.iteration = checkpoint.get("iteration")
        self.agent = self.trainer.agent(self.params, seed)
        self.state: Any = None

    @property
    def env_id(self) -> str:
        return self.run.config.env_id

    def predict(
        self, observation: Any, state: Any = None, deterministic: bool = True
    ) -> tuple[Any, Any]:
        """``(action, state)`` for one observation or a batch ``[B, obs_dim]``; pass the
        returned state back on the next step of the same episode(s), None at a start."""
        return self.agent.predict(observation, state, deterministic)

    def act(self, observation: Any) -> Any:
        """The action, carrying the network state from the previous ``act`` call."""
        action, self.state = self.agent.predict(observation, self.state)
        return action

    def reset(self) -> None:
        """Forget the network state (call at an episode's start)."""
        self.state = None


def load(run_dir: str | Path, device: str | None = None) -> Policy:
    """The policy that a run folder's best.pt keeps (``device``: instead of the run's)."""
    return Policy(Path(run_dir), device)


class Evaluation(NamedTuple):
    mean: float
    std: float
    returns: np.ndarray  # [episodes]


def evaluate(
    policy: Policy, env: str | gym.Env | None = None, episodes: int = 100, seed: int = 42
) -> Evaluation:
    """Returns of ``episodes`` episodes. On the policy's own env (``env`` None or its id)
    this is the run's test protocol, the numbers ``neurorl eval`` writes to results.json;
    another env id or a ``gym.Env`` (e.g. wrapped) is played one episode after another,
    reset with ``seed`` first (the policy's own draws, e.g. tie-breaks, from ``seed`` too)."""
    if episodes < 1:
        raise NeurorlError(f"episodes must be >= 1, got {episodes}")
    if env is None or env == policy.env_id:
        returns, _ = policy.trainer.evaluate(policy.params, episodes, seed)
    else:
        environment = gym.make(env) if isinstance(env, str) else env
        agent = policy.trainer.agent(policy.params, seed)  # its own draws, from the seed
        returns = [_play(agent, environment, seed if i == 0 else None) for i in range(episodes)]
    return Evaluation(float(np.mean(returns)), float(np.std(returns)), np.asarray(returns))


def _play(agent: Agent, env: gym.Env, seed: int | None) -> float:
    """One episode's return; ``seed`` resets the env's random stream (None: continues it)."""
    obs, _ = env.reset(seed=seed)
    state, total, done = None, 0.0, False
    while not done:
        action, state = agent.predict(obs, state)
        obs, reward, terminated, truncated, _ = env.step(action)
        total += float(reward)
        done = terminated or truncated
    return total
