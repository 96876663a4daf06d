"""Neuron-level RL (Aenugu 2020): coagent units, critics, the relaxed spiking actor, the
gridworld, and the experiments through the CLI."""

import json

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env
from test_bad_input import assert_clean_error

from neurorl.config import apply_overrides
from neurorl.core.stochastic import StochasticParameters
from neurorl.envs import gridworld
from neurorl.experiments import coagent as experiments
from neurorl.experiments.registry import get_experiment
from neurorl.learn import coagent
from neurorl.learn.critics import FourierCritic, TabularCritic
from neurorl.learn.reparam import concrete_spikes, temperature_at

NEURON = StochasticParameters(beta=0.8, threshold=1.0, temperature=0.3)


def trainer(name: str, **overrides: str) -> experiments.ActorCriticTrainer:
    config = apply_overrides(get_experiment(name).default_config(), overrides)
    return experiments.ActorCriticTrainer(config)


# --- gridworld --------------------------------------------------------------------------------


def test_gridworld_is_a_clean_gymnasium_env():
    env = gym.make(gridworld.ENV_ID)
    check_env(env.unwrapped)
    assert env.spec.max_episode_steps == gridworld.MAX_EPISODE_STEPS
    P = gridworld.transition_matrix()
    np.testing.assert_allclose(P.sum(-1), 1.0)
    # from the middle, "right" goes right 80%, up / down 5% each, stays 10%
    middle = 4 * 10 + 4
    assert P[middle, 3, middle + 1] == pytest.approx(0.8)
    assert P[middle, 3, middle - 10] == pytest.approx(0.05)
    assert P[middle, 3, middle + 10] == pytest.approx(0.05)
    assert P[middle, 3, middle] == pytest.approx(0.1)


def test_optimal_episode_length_matches_simulation():
    optimal = gridworld.optimal_mean_episode_length()
    policy = gridworld.optimal_policy()
    env = gym.make(gridworld.ENV_ID)
    lengths = []
    for episode in range(400):
        state, _ = env.reset(seed=episode)
        done, steps = False, 0
        while not done:
            state, reward, terminated, truncated, _ = env.step(int(policy[state]))
            steps += 1
            done = terminated or truncated
        assert reward == gridworld.GOAL_REWARD
        lengths.append(steps)
    # 18 moves at 80% progress; the standard error of 400 episodes is about 0.3 steps
    assert 18 / 0.8 * 0.95 < optimal < 18 / 0.8 * 1.05
    assert abs(np.mean(lengths) - optimal) < 1.5


# --- coagent units --------------------------------------------------------------------------


def test_bernoulli_score_is_the_gradient_of_the_log_probability():
    z = torch.linspace(-3, 3, 13, requires_grad=True)
    s = torch.tensor([1.0, -1.0] * 6 + [1.0])
    log_probability = torch.nn.functional.logsigmoid(2 * z * s).sum()
    (gradient,) = torch.autograd.grad(log_probability, z)
    p = torch.sigmoid(2 * z.detach())
    torch.testing.assert_close(coagent.bernoulli_score(p, s), gradient)


def network(unit: str, seed: int = 0) -> coagent.CoagentNetwork:
    generator = torch.Generator().manual_seed(seed)
    return coagent.CoagentNetwork(4, (6, 5), 2, 3, unit, 4, NEURON, 2.0, generator)


@pytest.mark.parametrize("unit", ["bernoulli", "lif"])
def test_hidden_update_does_not_depend_on_the_layers_above(unit):
    """No gradient flows between layers: replacing the layers above a hidden layer changes
    their own updates but not the hidden layer's."""
    code = torch.rand(7, 4) * 2 - 1
    delta = torch.randn(7)
    updates = []
    for above_seed in (1, 2):
        net = network(unit)
        for layer in net.layers[1:]:
            other = torch.Generator().manual_seed(above_seed)
            layer.weight.copy_(torch.randn(layer.weight.shape, generator=other) * 3)
        _, records = net.forward(code, torch.Generator().manual_seed(5))
        actions = torch.zeros(7, dtype=torch.long)
        signed = coagent.signed_deltas(delta, actions, net.fired(records), "reinforce")
        updates.append(net.gradients(records, signed))
    first, second = updates
    torch.testing.assert_close(first[0].weight, second[0].weight)
    torch.testing.assert_close(first[0].bias, second[0].bias)
    assert first[0].weight.abs().sum() > 0
    assert not torch.allclose(first[-1].weight, second[-1].weight)


def test_bernoulli_update_is_each_layers_own_log_probability_gradient():
    """The batched update equals autograd of ``sum delta log pi`` through each layer's own
    weights and biases, its input spikes held constant."""
    net = network("bernoulli")
    _, records = net.forward(torch.rand(7, 4) * 2 - 1, torch.Generator().manual_seed(5))
    signed = torch.randn(3, 7, 2)  # [P, B, A]
    gradients = net.gradients(records, signed)
    for record, layer, gradient in zip(records, net.layers, gradients, strict=True):
        weight = layer.weight.clone().requires_grad_()
        bias = layer.bias.clone().requires_grad_()
        z = torch.einsum("pabi,paio->pabo", record.inputs, weight) + bias[:, :, None]
        log_probability = torch.nn.functional.logsigmoid(2 * z * record.spikes)
        objective = (log_probability * signed.transpose(1, 2)[..., None]).sum()
        expected = torch.autograd.grad(objective, (weight, bias))
        torch.testing.assert_close(gradient.weight, expected[0])
        torch.testing.assert_close(gradient.bias, expected[1])


@pytest.mark.parametrize("unit", ["bernoulli", "lif"])
def test_a_positive_td_error_makes_every_unit_repeat_what_it_emitted(unit):
    net = network(unit)
    code = torch.rand(1, 4) * 2 - 1
    _, records = net.forward(code, torch.Generator().manual_seed(3))
    before = net.log_probabilities(records)
    delta = torch.ones(1)
    signed = coagent.signed_deltas(
        delta, torch.zeros(1, dtype=torch.long), net.fired(records), "reinforce"
    )
    net.update(records, signed, lr=1e-3)
    after = net.log_probabilities(records)
    assert coagent.towards_fractions(before, after, signed) == [1.0, 1.0, 1.0]


def test_companion_rule_flips_the_modules_that_voted_for_another_action():
    delta = torch.tensor([2.0, -1.0])
    fired = torch.tensor([[[True, True], [False, True]]])  # [P=1, B=2, A=2]
    actions = torch.tensor([0, 0])
    companion = coagent.signed_deltas(delta, actions, fired, "companion")
    reinforce = coagent.signed_deltas(delta, actions, fired, "reinforce")
    torch.testing.assert_close(reinforce, torch.tensor([[[2.0, 2.0], [-1.0, -1.0]]]))
    torch.testing.assert_close(companion, torch.tensor([[[2.0, -2.0], [-1.0, 1.0]]]))


def test_votes_decide_and_epsilon_explores():
    votes = torch.tensor([[[0.0, 1.0, 0.0]], [[0.0, 1.0, 1.0]]])  # [P=2, B=1, A=3]
    generator = torch.Generator().manual_seed(0)
    greedy = [int(coagent.choose_actions(votes, 0.0, generator)[0]) for _ in range(20)]
    assert set(greedy) == {1}
    explored = [int(coagent.choose_actions(votes, 1.0, generator)[0]) for _ in range(60)]
    assert set(explored) == {0, 1, 2}


# --- critics ---------------------------------------------------------------------------------


def test_fourier_critic_learns_state_values():
    """One-step episodes with reward x: TD converges to V(x) = x on a Fourier basis."""
    critic = FourierCritic(3, torch.zeros(1), torch.ones(1), 32, 0.9, 0.5, 0.05)
    assert critic.weights.numel() == 4
    generator = torch.Generator().manual_seed(0)
    for _ in range(400):
        x = torch.rand(32, 1, generator=generator)
        critic.start(torch.arange(32))
        critic.update(x, x, x[:, 0], torch.ones(32), torch.ones(32))
    grid = torch.linspace(0.1, 0.9, 9)[:, None]
    torch.testing.assert_close(critic.value(grid), grid[:, 0], atol=0.05, rtol=0)


def test_fourier_critic_reuses_the_next_observations_features_exactly():
    """An episode's next step reads the features of the last update's next observation;
    a critic that recomputes them every step learns the same weights."""
    cached = FourierCritic(5, -torch.ones(4), torch.ones(4), 3, 0.99, 0.5, 1e-2)
    fresh = FourierCritic(5, -torch.ones(4), torch.ones(4), 3, 0.99, 0.5, 1e-2)
    generator = torch.Generator().manual_seed(0)
    obs = torch.rand(3, 4, generator=generator) * 2 - 1
    for step in range(20):
        next_obs = (obs + 0.1 * torch.randn(3, 4, generator=generator)).clamp(-1, 1)
        reward, ended = torch.randn(3, generator=generator), torch.zeros(3)
        live = torch.tensor([1.0, 1.0, float(step < 10)])
        fresh.last = None
        deltas = [c.update(obs, next_obs, reward, ended, live) for c in (cached, fresh)]
        torch.testing.assert_close(deltas[0], deltas[1], rtol=0, atol=0)
        obs = next_obs if step != 7 else torch.rand(3, 4, generator=generator)
    torch.testing.assert_close(cached.weights, fresh.weights, rtol=0, atol=0)


def test_tabular_td_lambda_spreads_the_reward_back():
    critic = TabularCritic(3, 1, gamma=0.5, lam=1.0, lr=1.0)
    critic.start(torch.arange(1))
    one = torch.ones(1)
    critic.update(torch.tensor([0]), torch.tensor([1]), torch.zeros(1), torch.zeros(1), one)
    critic.update(torch.tensor([1]), torch.tensor([2]), torch.full((1,), 4.0), one, one)
    # delta 4 reaches state 1 fully and state 0 through its trace gamma * lambda = 0.5
    torch.testing.assert_close(critic.weights, torch.tensor([2.0, 4.0, 0.0]))


# --- reparameterised spikes ----------------------------------------------------------------


def test_concrete_spikes_relax_bernoulli_spikes():
    logits = torch.full((20000,), 0.8, requires_grad=True)
    generator = torch.Generator().manual_seed(0)
    soft = concrete_spikes(logits, 0.05, False, generator)
    assert abs(float((soft > 0.5).float().mean()) - float(torch.sigmoid(torch.tensor(0.8)))) < 0.02
    hard = concrete_spikes(logits, 0.5, True, generator)
    assert bool(((hard - hard.round()).abs() < 1e-6).all())
    (gradient,) = torch.autograd.grad(hard.sum(), logits)
    assert gradient.abs().sum() > 0
    assert temperature_at(0.0, 1.0, 0.1) == 1.0 and temperature_at(1.0, 1.0, 0.1) == pytest.approx(
        0.1
    )
    with pytest.raises(ValueError, match="temperature must be > 0"):
        concrete_spikes(logits, 0.0, False, generator)


# --- learning --------------------------------------------------------------------------------


def test_gridworld_coagent_learns_to_reach_the_goal_quickly():
    random_lengths = []
    for seed in range(2):
        t = trainer("gridworld-coagent", seed=str(seed), **{"train.episodes": "1"})
        random_lengths.append(t.evaluate(t.params(), 20, 42)[1]["mean_length"])
    # 4 episodes in lockstep sum 4 updates per step: a quarter of the step size
    sets = {"train.episodes": "60", "train.num_envs": "4", "actor.learning_rate": "0.0125"}
    t = trainer("gridworld-coagent", seed="0", **sets)
    rows = []
    while not t.finished():
        rows.append(t.train_step())
    trained = t.evaluate(t.params(), 20, 42)[1]["mean_length"]
    # every row has the same columns (metrics.csv), the units' diagnostics among them
    assert all(row.keys() == rows[0].keys() for row in rows)
    assert {"rate_layer0", "rate_layer1", "towards_layer0", "towards_layer1"} <= set(rows[0])
    assert trained < 0.5 * min(random_lengths), (trained, random_lengths)


@pytest.mark.parametrize(
    ("name", "episodes"),
    [("cartpole-coagent", 96), ("cartpole-ann-ac", 96), ("cartpole-reparam", 128)],
)
def test_cartpole_actors_improve_over_random(name, episodes):
    t = trainer(name, **{"train.episodes": str(episodes)})
    while not t.finished():
        row = t.train_step()
    # a random policy holds the pole for about 22 steps
    assert row["train_return_100"] > 40, row


# --- resume and the CLI ------------------------------------------------------------------------


VALIDATED = {"train.validate_every": "2", "train.validation_episodes": "2"}


@pytest.mark.parametrize(
    ("name", "extra"),
    [
        ("gridworld-coagent", {}),
        ("gridworld-reparam", {}),
        ("mountaincar-coagent", VALIDATED),  # its default score: the last validation
    ],
)
def test_resumed_training_continues_exactly(name, extra):
    sets = {"train.episodes": "6", "train.num_envs": "2", "max_episode_steps": "40", **extra}
    straight = trainer(name, **sets)
    rows = [straight.train_step() for _ in range(3)]
    first = trainer(name, **sets)
    first.train_step()
    resumed = trainer(name, **sets)
    resumed.load_state_dict(first.state_dict())
    assert [resumed.train_step(), resumed.train_step()] == rows[1:]
    torch.testing.assert_close(resumed.params(), straight.params())


def test_lif_coagent_runs_through_the_cli(cli, tmp_path):
    sets = ["train.episodes=4", "train.num_envs=2", "actor.unit=lif", "eval.episodes=3"]
    sets += ["max_episode_steps=40"]
    args = [a for s in sets for a in ("--set", s)]
    code, _, err = cli("train", "gridworld-coagent", "--quiet", "--out", tmp_path, *args)
    assert code == 0, err
    run = next((tmp_path / "gridworld-coagent").iterdir())
    results = json.loads((run / "results.json").read_text())
    assert results["eval"]["episodes"] == 3 and "mean_length" in results["eval"]
    assert (run / "checkpoints" / "best.pt").is_file()
    trained = experiments.ActorCriticTrainer(
        apply_overrides(
            get_experiment("gridworld-coagent").default_config(), dict(s.split("=") for s in sets)
        )
    )
    figures = trained.plots(run / "plots", trained.params())
    assert [f.name for f in figures] == ["units.png"] and figures[0].stat().st_size > 0
    action, _ = trained.agent(trained.params()).predict(0)
    assert 0 <= int(action) < 4


@pytest.mark.parametrize(
    ("name", "override", "fragments"),
    [
        ("cartpole-coagent", "critic.order=1000", ["critic.order=1000", "GiB", "Fourier features"]),
        ("cartpole-coagent", "actor.population=100000000", ["coagent population", "GiB"]),
        (
            "mountaincar-reparam",
            "actor.population_fields=1000000000",
            ["reparam actor network [2000000000, 64, 3]", "GiB"],
        ),
        ("cartpole-coagent", "obs_bounds=[]", ["unbounded in dims [1, 3]", "obs_bounds="]),
        ("cartpole-reparam", "actor.temperature_start=0", ["actor.temperature_start must be > 0"]),
        ("cartpole-reparam", "actor.temperature_end=-1", ["actor.temperature_end must be > 0"]),
        (
            "cartpole-coagent",
            "actor.escape_temperature=0",
            ["actor.escape_temperature must be > 0"],
        ),
        ("gridworld-coagent", "critic.kind=fourier", ["critic.kind=fourier does not fit"]),
        ("gridworld-coagent", "train.score=validation", ["needs train.validate_every > 0"]),
    ],
)
def test_bad_input_is_one_line(cli, tmp_path, name, override, fragments):
    code, _, err = cli("train", name, "--quiet", "--out", tmp_path, "--set", override)
    assert_clean_error(code, err, *fragments)
    assert not any(tmp_path.iterdir())


def test_validation_score_belongs_to_the_validated_parameters():
    """With ``train.score=validation`` the score is the last validation's mean return and
    ``params()`` (what best.pt keeps) the parameters it was measured on, not the ones
    training has moved on to since."""
    sets = {**VALIDATED, "train.score": "validation", "train.num_envs": "2"}
    t = trainer("mountaincar-coagent", **sets, max_episode_steps="30")
    assert t.score_key == "validation_return"
    rows = []
    for _ in range(3):
        rows.append(t.train_step())
        if len(rows) == 2:
            moved = t.actor.vector()
            assert not torch.equal(t.params(), moved)
            assert rows[1]["validation_return"] == rows[0]["validation_return"]
    torch.testing.assert_close(t.params(), t.actor.vector(), rtol=0, atol=0)
    assert not torch.equal(t.params(), moved)


def test_validation_stops_training_and_fills_every_row():
    sets = {"train.validate_every": "2", "train.validation_episodes": "2", "train.stop_score": "0"}
    t = trainer("gridworld-coagent", **sets, **{"train.num_envs": "2", "max_episode_steps": "30"})
    row = t.train_step()
    assert np.isfinite(row["validation_return"]) and t.finished()
    assert t.episodes == 2
