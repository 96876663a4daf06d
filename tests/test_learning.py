"""Learning, on small budgets: a trained agent clearly beats a random policy."""

import gymnasium as gym
import numpy as np

from neurorl.config import apply_overrides
from neurorl.core import configure_cpu
from neurorl.experiments.evolution import EvolutionTrainer
from neurorl.experiments.registry import get_experiment


def random_policy_mean_return(env_id: str, episodes: int, seed: int) -> float:
    env = gym.make(env_id)
    env.action_space.seed(seed)
    returns = []
    for episode in range(episodes):
        env.reset(seed=seed + episode)
        total, done = 0.0, False
        while not done:
            _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    return float(np.mean(returns))


def _train(name: str, generations: int) -> float:
    configure_cpu()
    overrides = {
        "train.generations": generations,
        "es.population": 32,
        "train.episodes_per_member": 3,
    }
    trainer = EvolutionTrainer(apply_overrides(get_experiment(name).default_config(), overrides))
    untrained, _ = trainer.evaluate(trainer.params(), 20, 42)
    while not trainer.finished():
        trainer.train_step()
    trained, _ = trainer.evaluate(trainer.params(), 20, 42)
    assert trained.mean() > untrained.mean()
    return float(trained.mean())


def test_default_spiking_es_beats_random_on_cartpole():
    random_mean = random_policy_mean_return("CartPole-v1", 50, 42)
    assert 10 < random_mean < 35
    assert _train("cartpole-snn-es", 30) > 4 * random_mean  # random: ~22 steps


def test_ann_baseline_learns_with_the_same_es():
    assert _train("cartpole-ann-es", 60) > 4 * random_policy_mean_return("CartPole-v1", 50, 42)
