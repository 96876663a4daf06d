"""The Haşegan et al. 2022 experiments: critic, STDP-RL trainer, evolution of the same network."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from conftest import run_neurorl

from neurorl.config import apply_overrides
from neurorl.core import configure_cpu
from neurorl.experiments import evolution
from neurorl.experiments.checkpoint import load_checkpoint, save_checkpoint
from neurorl.experiments.registry import DEFAULT_EXPERIMENT, get_experiment
from neurorl.experiments.stdp_rl import (
    PAPER_STAGES,
    WEIGHT_NAMES,
    CriticConfig,
    critic_reward,
    stdp_config,
)
from neurorl.learn.rollout import (
    FirstEpisodes,
    random_policy_returns,
    run_episode_groups,
    run_episodes,
)
from neurorl.learn.stdp import stdp_init
from neurorl.nets.cartpole_policy import MAX_WEIGHT_MV

EAGER = {"net.compile": "false"}  # compiling the time step costs more than these short runs
STAGE = PAPER_STAGES[-1]  # k 1.2, positive bias 2, opposite factor 0.9
SHORT = (  # one 120-step stage with a large rate, so that a few episodes change weights
    "[{env_steps: 120, window_ms: 5, lifetime_ms: 250, rate: 0.05, angvel_weight: 1.2, "
    "positive_bias: 2, opposite_factor: 0.9}]"
)


def obs(theta: float, omega: float) -> np.ndarray:
    return np.array([0.0, 0.0, theta, omega])


def test_critic_follows_the_original_v1_rules():
    critic = CriticConfig()
    assert critic_reward(obs(0.005, 0.005), obs(0.2, 0.2), False, STAGE, critic) == 0.0
    assert critic_reward(obs(0.1, 0.1), obs(0.1, 0.1), True, STAGE, critic) == -0.5
    assert critic_reward(obs(0.1, 0.1), obs(0.005, -0.005), False, STAGE, critic) == 1.0
    before, after = obs(0.05, 0.1), obs(0.05, 0.08)
    gain = 3.0 * (np.hypot(0.05, np.sqrt(1.2) * 0.1) - np.hypot(0.05, np.sqrt(1.2) * 0.08))
    assert critic_reward(before, after, False, STAGE, critic) == pytest.approx(2.0 * gain)
    assert critic_reward(after, before, False, STAGE, critic) == pytest.approx(-gain)
    assert critic_reward(obs(0.5, 2.0), obs(0.02, 0.02), False, STAGE, critic) == 1.0  # clipped


def _trainer(name: str, **overrides: str):
    configure_cpu()
    experiment = get_experiment(name)
    return experiment.make_trainer(apply_overrides(experiment.default_config(), overrides))


def test_stdp_rl_changes_only_existing_plastic_synapses_and_resumes_exactly():
    trainer = _trainer(
        "cartpole-snn-stdprl-ea-em", stages=SHORT, **EAGER, **{"plasticity.normalize_every": "0"}
    )
    before = {name: trainer.weight(name).clone() for name in WEIGHT_NAMES}
    trainer.train_step()
    ea_em, mask = trainer.weight("EA->EM"), trainer.masks["EA->EM"]
    assert not torch.equal(ea_em, before["EA->EM"])  # rewards arrived and tags were set
    assert torch.equal(ea_em[:, ~mask], before["EA->EM"][:, ~mask])  # absent synapses stay 0
    assert torch.equal(trainer.weight("ES->EA"), before["ES->EA"])  # not plastic here
    assert trainer.params().shape == (1800,)

    twin = _trainer(
        "cartpole-snn-stdprl-ea-em", stages=SHORT, **EAGER, **{"plasticity.normalize_every": "0"}
    )
    twin.load_state_dict(trainer.state_dict())
    assert trainer.train_step() == twin.train_step()
    assert all(torch.equal(trainer.weight(k), twin.weight(k)) for k in WEIGHT_NAMES)


def _reward_fully_tagged(trainer, reward: float):
    """Apply ``reward`` for a LEFT move with every EA->EM synapse Hebbian-tagged: the weight
    change ``[n_pre, n_post]`` and the mask of the synapses onto the LEFT (chosen) half."""
    rule = stdp_config(STAGE, trainer.config.plasticity)
    mask = trainer.masks["EA->EM"]
    tags = stdp_init(rule, 1, 1, *mask.shape)
    tags = tags._replace(hebb_age=torch.zeros_like(tags.hebb_age))
    before = trainer.weight("EA->EM").clone()
    trainer._reward(reward, 0, {"EA->EM": tags}, {"EA->EM": rule}, STAGE)
    onto_left = mask.clone()
    onto_left[:, trainer.network.config.em // 2 :] = False
    assert onto_left.any()
    return (trainer.weight("EA->EM") - before)[0], onto_left


@pytest.mark.parametrize(("homeostatic", "scale"), [("false", 2.0), ("true", 0.5)])
def test_output_balancing_scales_a_grown_cells_reward_as_configured(homeostatic, scale):
    """An EA cell whose outgoing weights doubled: a reward of +1 on fully Hebbian-tagged
    synapses changes them by 2 x rate as the original codes it, 0.5 x rate as it comments."""
    trainer = _trainer(
        "cartpole-snn-stdprl",
        **EAGER,
        **{"plasticity.output_balancing_homeostatic": homeostatic},
    )
    trainer.weight("EA->EM")[:, 0] *= 2.0  # cell 0 grown, the others as at the start
    change, onto_left = _reward_fully_tagged(trainer, 1.0)
    grown, other = onto_left.clone(), onto_left.clone()
    grown[1:], other[0] = False, False
    assert grown.any() and other.any()
    assert torch.allclose(change[grown], torch.tensor(scale * STAGE.rate), atol=1e-5)
    assert torch.allclose(change[other], torch.tensor(STAGE.rate), atol=1e-5)


def test_soft_bound_scales_a_rewarded_change_by_the_room_left():
    """w_max 20 mV: a reward of +1 on fully Hebbian-tagged synapses moves a 15-mV synapse by
    rate x (20 - 15) / 20 and a 5-mV one by rate x 15 / 20; a punishment moves them by
    rate x 15 / 20 and rate x 5 / 20."""
    trainer = _trainer(
        "cartpole-snn-stdprl",
        **EAGER,
        **{
            "plasticity.soft_bound": "true",
            "plasticity.w_max_mv": "20",
            "plasticity.output_balancing": "false",
        },
    )
    rule = stdp_config(STAGE, trainer.config.plasticity)
    assert rule.soft_bound and rule.w_max == 20.0
    high = torch.zeros_like(trainer.masks["EA->EM"])
    high[: high.size(0) // 2] = True
    trainer.weight("EA->EM")[0] = torch.where(high, 15.0, 5.0)
    for reward, room_high, room_low in [(1.0, 5 / 20, 15 / 20), (-1.0, 15 / 20, 5 / 20)]:
        change, onto_left = _reward_fully_tagged(trainer, reward)
        expected = reward * STAGE.rate * torch.where(high, room_high, room_low)
        assert torch.allclose(change[onto_left], expected[onto_left], atol=1e-5)


def test_stdp_rl_stage_restarts_take_homeostasis_references_from_the_current_weights():
    """restart_stages: from the second stage's first step (env step 60) on, the incoming
    targets and the output baseline are the means of the weights then and the gain restarts
    at 1; one process keeps the initial ones; a resumed trainer continues exactly."""
    two = SHORT.replace("120", "60")[1:-1]
    sets = {"stages": f"[{two}, {two}]", **EAGER, "plasticity.gain_control_every": "5"}
    trainer = _trainer("cartpole-snn-stdprl", restart_stages="true", **sets)
    plain = _trainer("cartpole-snn-stdprl", **sets)
    initial = trainer.target_in["EA->EM"].clone()
    trainer.weight("EA->EM").mul_(1.5)
    trainer.gain *= 0.9
    trainer._restart()
    assert torch.allclose(trainer.target_in["EA->EM"], 1.5 * initial)
    assert torch.equal(trainer.gain, torch.ones(1, 3)) and not trainer.rates  # [members, 3]
    trainer = _trainer("cartpole-snn-stdprl", restart_stages="true", **sets)
    while trainer.env_steps < 70:
        trainer.train_step(), plain.train_step()
    assert not torch.equal(trainer.target_in["EA->EM"], initial)  # restarted at step 60
    assert torch.equal(plain.target_in["EA->EM"], initial)  # one process: never
    twin = _trainer("cartpole-snn-stdprl", restart_stages="true", **sets)
    twin.load_state_dict(trainer.state_dict())
    assert torch.equal(twin.target_in["EA->EM"], trainer.target_in["EA->EM"])
    assert torch.equal(twin.initial_out, trainer.initial_out)
    assert trainer.train_step() == twin.train_step()


def test_stdp_rl_validation_picks_by_its_own_episodes_and_leaves_training_unchanged():
    plain = _trainer("cartpole-snn-stdprl", stages=SHORT, **EAGER)
    sets = {
        "train.validate_every": "2",
        "train.validation_episodes": "3",
        "train.checkpoint": "validated",
    }
    validated = _trainer("cartpole-snn-stdprl", stages=SHORT, **EAGER, **sets)
    assert (plain.score_key, validated.score_key) == ("average_steps", "validation_return")
    played = []
    while not plain.finished():
        metrics, row = plain.train_step(), validated.train_step()
        assert {key: row[key] for key in metrics} == metrics  # the same training episodes
        assert (row["validation_return"] >= 0) == (row["episodes"] % 2 == 0)
        played += [row["validation_return"]] if row["validation_return"] >= 0 else []
    assert len(played) >= 2
    # CartPole's return is its episode's steps: 3 validation episodes per validation
    assert validated.validation_env_steps == pytest.approx(3 * sum(played))
    assert validated.env_steps == plain.env_steps  # the schedule runs on training steps only
    twin = _trainer("cartpole-snn-stdprl", stages=SHORT, **EAGER, **sets)
    twin.load_state_dict(validated.state_dict())
    assert twin.validation_env_steps == validated.validation_env_steps


def test_stdp_rl_default_trains_both_projections():
    trainer = _trainer("cartpole-snn-stdprl", stages=SHORT, **EAGER)
    before = trainer.weight("ES->EA").clone()
    while not trainer.finished():
        trainer.train_step()
    assert not torch.equal(trainer.weight("ES->EA"), before)
    returns, stats = trainer.evaluate(trainer.params(), 3, 42)
    assert returns.shape == (3,) and stats["spikes_per_decision"] > 0


def test_evolution_of_the_paper_network_and_of_ea_em_only_and_by_ars():
    small = {
        "es.population": "4",
        "train.generations": "1",
        "train.episodes_per_member": "1",
        "train.replay_starts": "1",
        "train.center_episodes": "1",
        "net.compile": "false",  # compiling costs more than this test
    }
    full = _trainer("cartpole-snn-evol", **small)
    assert full.params().shape == (1800,)
    part = _trainer("cartpole-snn-evol-ea-em", **small)
    assert part.params().shape == (800,)
    assert torch.equal(full.params()[1000:], part.params())  # same network, same initial weights
    metrics = part.train_step()
    assert metrics["episodes"] == 5 and metrics["spikes_per_decision"] > 0
    es_ea = part.policy.weights(part.params()[None]).es_ea
    assert torch.equal(es_ea, full.policy.weights(full.params()[None]).es_ea)  # kept fixed
    ars = _trainer("cartpole-snn-evol-ars", **small)
    assert torch.equal(ars.params(), full.params())  # the same weights, another ES
    assert ars.train_step()["episodes"] == 5
    assert not torch.equal(ars.es.center.detach(), full.params())  # the best pair stepped
    quick = _trainer(DEFAULT_EXPERIMENT, **small)  # the default: ARS, all pairs, dt 2 ms
    assert quick.config.net.network.steps == 25 and quick.config.es.variant == "ars"
    assert quick.train_step()["episodes"] == 5
    fast = get_experiment("cartpole-snn-evol-fast").default_config()  # the default's ES and
    default = get_experiment(DEFAULT_EXPERIMENT).default_config()  # network, members to 500
    assert fast.es == default.es and fast.net == default.net
    assert fast.train.member_max_steps is None


def test_members_episodes_end_at_their_cap_and_the_centres_do_not():
    sets = {"es.population": "8", "train.episodes_per_member": "2", "train.center_episodes": "4"}
    trainer = _trainer("cartpole-ann-es", **sets, **{"train.member_max_steps": "5"})
    metrics = trainer.train_step()
    assert metrics["max_member_return"] == 5  # no CartPole episode ends before step 8
    assert metrics["center_return"] > 5
    assert metrics["env_steps"] == 8 * 2 * 5 + 4 * metrics["center_return"]


def test_plastic_weights_stay_excitatory_on_either_scale():
    linear = _trainer("cartpole-snn-evol", **{"net.compile": "false"}).policy
    log = _trainer("cartpole-snn-evol", **{"net.scale": "log", "net.compile": "false"}).policy
    initial = linear.initial_parameters()
    assert torch.allclose(log.initial_parameters().exp(), initial)  # ln(w / 1 mV)
    for policy, params in ((linear, initial), (log, log.initial_parameters())):
        dense = policy.weights(params[None])
        assert torch.allclose(dense.es_ea, linear.initial.es_ea, rtol=1e-5)
    pushed = linear.weights(torch.stack([initial - 1e3, initial + 1e3]))  # past both bounds
    assert (pushed.ea_em[0] == 0).all() and pushed.ea_em[1].max() == MAX_WEIGHT_MV


def test_common_starts_give_every_member_the_same_initial_states():
    """Two identical members of a deterministic network with the same seeds return the same
    episodes; the centre's own episodes are counted apart."""
    trainer = _trainer(
        "cartpole-ann-es",
        **{
            "es.population": "2",
            "train.episodes_per_member": "2",
            "train.center_episodes": "4",
            "train.common_starts": "true",
        },
    )
    center = trainer.params()
    seeds = [7, 8, 7, 8]
    same = run_episodes("CartPole-v1", trainer.policy, center.expand(2, -1), 2, seeds, None)
    assert (same.returns[0] == same.returns[1]).all()
    assert same.returns[0, 0] != same.returns[0, 1]  # a member's own episodes differ
    assert trainer.train_step()["episodes"] == 2 * 2 + 4


def test_first_episodes_play_each_seed_once_and_step_only_running_envs():
    """FirstEpisodes starts each env from its seed as a sync vector env does, ends each at its
    own time limit, and leaves a finished env alone (its observation stays, no reward)."""
    seeds, limits = [3, 4, 3], [500, 5, 500]
    envs = FirstEpisodes("CartPole-v1", 3, limits)
    sync = gym.make_vec("CartPole-v1", num_envs=3, vectorization_mode="sync")
    obs, _ = envs.reset(seed=seeds)
    assert (obs == sync.reset(seed=seeds)[0]).all() and (obs[0] == obs[2]).all()
    actions, lengths, returns = np.array([0, 0, 1]), np.zeros(3, dtype=int), np.zeros(3)
    while envs.running.any():
        running, before = envs.running.copy(), obs
        obs, reward, terminated, truncated, _ = envs.step(actions)
        assert (obs[~running] == before[~running]).all() and (reward[~running] == 0).all()
        assert not (terminated | truncated)[~running].any()
        lengths += running
        returns += reward
    assert lengths[1] == 5 and (returns == lengths).all()
    assert lengths[0] != lengths[2]  # the same start, other actions
    for i, (seed, action) in enumerate(zip(seeds, actions, strict=True)):
        env = gym.make("CartPole-v1")
        env.reset(seed=seed)
        alone = next(t for t in range(1, 501) if any(env.step(action)[2:4]))
        assert lengths[i] == min(alone, limits[i])


def test_members_replay_the_starts_that_the_centre_fell_short_on(monkeypatch, tmp_path):
    """train.replay_starts=1: after a generation, each member's last episode starts from one
    of the (at most replay_pool_size) latest starts whose centre episode returned less than
    stop_score, the first from a fresh start; the pool is kept in a checkpoint."""
    replay = {
        "seed": "1",
        "es.population": "2",
        "train.episodes_per_member": "2",
        "train.center_episodes": "8",
        "train.common_starts": "true",
        "train.stop_score": "60",
        "train.validation_episodes": "0",
        "train.replay_starts": "1",
        "train.replay_pool_size": "3",
    }
    seeds_played = []

    def recording(env_id, policy, groups):
        seeds_played.append(groups[0].seed)
        return run_episode_groups(env_id, policy, groups)

    monkeypatch.setattr(evolution, "run_episode_groups", recording)
    trainer = _trainer("cartpole-ann-es", **replay)
    center = trainer.params()
    trainer.train_step()
    center_seeds = seeds_played[0][4:]
    alone = run_episodes("CartPole-v1", trainer.policy, center[None], 8, center_seeds, None)
    short = [s for s, r in zip(center_seeds, alone.returns[0], strict=True) if r < 60]
    assert 0 < len(short) < 8  # some starts held the pole for 60 steps, some did not
    assert trainer.failed_starts == short[-3:]
    save_checkpoint(tmp_path / "gen1.pt", trainer.state_dict())
    trainer.train_step()
    fresh, replayed = seeds_played[1][:2]
    assert seeds_played[1][:4] == [fresh, replayed] * 2 and replayed in short[-3:]
    assert fresh not in center_seeds + seeds_played[0][:2]
    resumed = _trainer("cartpole-ann-es", **replay)
    resumed.load_state_dict(load_checkpoint(tmp_path / "gen1.pt"))
    resumed.train_step()
    assert seeds_played[2] == seeds_played[1]


def test_members_play_to_their_own_horizon_and_the_centre_to_the_envs():
    """train.member_max_steps ends the members' episodes there, before or after the env's time
    limit (MountainCar-v0's 200 steps, which an untrained network never beats), and the
    centre's episodes still end at the env's limit."""
    overrides = {"env_id": "MountainCar-v0", "es.population": "2", "train.stop_score": "null"}
    for horizon in (30, 260):
        trainer = _trainer(
            "cartpole-ann-es", **overrides, **{"train.member_max_steps": str(horizon)}
        )
        metrics = trainer.train_step()
        assert metrics["mean_return"] == -horizon and metrics["center_return"] == -200
    with pytest.raises(ValueError, match="step limits for 4 envs"):
        run_episodes("MountainCar-v0", trainer.policy, trainer.params()[None], 4, 0, None, [9])


def test_finished_episodes_leave_the_batch_without_disturbing_the_others():
    """A batch whose rows drop out as their episodes end plays every (member, episode) pair
    as it plays alone: the network state of the rows that stay is kept row by row."""
    policy = _trainer("cartpole-snn-evol", **{"net.compile": "false", "net.tie": "first"}).policy
    center = policy.initial_parameters()
    params = center * (
        1 + 0.5 * torch.randn(3, len(center), generator=torch.Generator().manual_seed(0))
    )
    seeds = [11, 12, 13, 14, 15, 16]
    together = run_episodes("CartPole-v1", policy, params, 2, seeds, None)
    alone = [
        run_episodes("CartPole-v1", policy, params[i // 2][None], 1, [seed], None).returns[0, 0]
        for i, seed in enumerate(seeds)
    ]
    assert together.returns.flatten().tolist() == alone
    assert len(set(alone)) > 1  # the episodes end at different steps


def test_the_scored_centre_is_kept_and_validated_before_a_stop():
    small = {"es.population": "4", "train.episodes_per_member": "1", "train.center_episodes": "2"}
    trainer = _trainer("cartpole-ann-es", **small, **{"train.validation_episodes": "3"})
    before = trainer.es.center.detach().clone()
    metrics = trainer.train_step()
    assert torch.equal(trainer.params(), before)  # the centre its score belongs to
    assert not torch.equal(trainer.es.center.detach(), before)  # ... then the step was taken
    assert metrics["validation_return"] == -1.0 and not trainer.finished()  # below 500
    easy = _trainer(
        "cartpole-ann-es", **small, **{"train.validation_episodes": "3", "train.stop_score": "1"}
    )
    metrics = easy.train_step()
    assert metrics["validation_return"] >= 1 and metrics["episodes"] == 4 + 2 + 3
    assert easy.finished()


def test_center_episodes_must_be_whole_member_rows(tmp_path):
    result = run_neurorl(
        "train",
        "cartpole-snn-es",
        "--out",
        tmp_path,
        "--set",
        "train.episodes_per_member=2",
        "--set",
        "train.center_episodes=5",
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "must be a positive multiple of train.episodes_per_member (2)" in result.stderr


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("net.network.ea=-3", "ea (EA size) must be >= 1"),
        ("net.network.dt_ms=60", "dt_ms (60.0) must be <= window_ms (50.0)"),
        ("net.network.projections=[{pre: ES, post: EA, weight_mv: 10, in_degree: 90}]", "exceeds"),
        ("net.network.input_rate_hz=-5", "input_rate_hz must be >= 0"),
    ],
)
def test_impossible_networks_fail_at_start(tmp_path, override, fragment):
    result = run_neurorl("train", "cartpole-snn-evol", "--out", tmp_path, "--set", override)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("neurorl: error: ") and fragment in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_diagnostics_record_what_the_network_did(tmp_path):
    from neurorl.analysis.network_plots import plot_network_diagnostics, record_episodes

    policy = _trainer("cartpole-snn-stdprl").policy
    untrained = policy.initial_parameters()
    recording = record_episodes(policy, untrained, "CartPole-v1", 3, env_seed=42)
    # every decision of every episode is one LEFT, RIGHT or unknown move
    assert recording.actions.sum(1).tolist() == recording.returns.astype(int).tolist()
    steps = policy.network.config.steps
    assert recording.spikes.shape == (int(recording.returns[0]) * steps, 200)
    assert recording.spikes[:, policy.network.slices["EM"]].any()
    silent = untrained.clone().zero_()  # no E->E drive: EM never fires, every move unknown
    assert record_episodes(policy, silent, "CartPole-v1", 2, 42).actions[:, :2].sum() == 0
    params = {"untrained": untrained, "trained": untrained * 1.1}
    paths = plot_network_diagnostics(tmp_path, policy, params, "CartPole-v1", 2, 42)
    names = {"raster.png", "population_rates.png", "weights.png", "actions.png"}
    assert {path.name for path in paths} == names
    assert all(path.stat().st_size > 10_000 for path in paths)


def test_random_baseline_plays_under_the_experiments_time_limit():
    """MountainCar's random policy never reaches the goal: each episode lasts its time limit,
    the env's 200 steps or the one an experiment sets in its place."""
    assert (random_policy_returns("MountainCar-v0", 3, 42, 0) == -200).all()
    assert (random_policy_returns("MountainCar-v0", 3, 42, 0, max_episode_steps=300) == -300).all()
