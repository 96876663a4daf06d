"""The simulated worm plate (Li, Kreiman & Ramanathan 2024): env, worm, lines, circuit,
offline discrete SAC, analyses, and bad input."""

import argparse
import dataclasses
import io
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env
from test_bad_input import assert_clean_error

import neurorl.envs.worm  # noqa: F401  (registers neurorl/WormPlate-v0)
from neurorl.analysis.worm_plots import compare_with_controls, policy_map
from neurorl.envs.worm import validate, video
from neurorl.envs.worm.circuit import CircuitResponse
from neurorl.envs.worm.connectome import CIRCUIT_CLASSES, load_counts
from neurorl.envs.worm.lines import LINES, NEURON_EFFECTS
from neurorl.envs.worm.plate import PlateConfig, WormPlateBatch, run_episodes
from neurorl.errors import ConfigError, NotExportableError
from neurorl.experiments.worm import (
    DataConfig,
    LightData,
    WormConfig,
    WormSACTrainer,
    WormTrainConfig,
    augment,
    draw_transitions,
    plate_reward,
)
from neurorl.export.nir import read_graph, write_graph
from neurorl.learn.sac_discrete import Batch, DiscreteSAC, SACConfig

SHORT = PlateConfig(episode_seconds=60.0)


def test_env_passes_check_env_and_renders():
    env = gym.make("neurorl/WormPlate-v0", render_mode="rgb_array")
    check_env(env.unwrapped)
    obs, info = env.reset(seed=3, options={"target": (1.0, 0.0)})
    assert obs.shape == (90,) and env.observation_space.contains(obs)
    assert 0 < info["distance_cm"] < 3.0
    dark = env.render()
    env.step(1)
    lit = env.render()
    assert dark.shape == (400, 400, 3) and dark.dtype == np.uint8
    assert (lit[:5, :5] == [220, 40, 40]).all() and not (dark[:5, :5] == [220, 40, 40]).all()
    assert (dark == [30, 120, 220]).all(-1).any()  # the target is drawn


def test_observation_holds_the_last_frames_relative_to_the_target():
    env = gym.make("neurorl/WormPlate-v0")
    obs, _ = env.reset(seed=0)
    frames = obs.reshape(15, 6)
    assert np.allclose(frames, frames[-1])  # a fresh episode repeats its first frame
    for _ in range(20):
        obs, *_ = env.step(0)
    frames = obs.reshape(15, 6)
    batch = env.unwrapped.batch
    expected = (np.array([batch.worms.x[0], batch.worms.y[0]]) - batch.target[0]) / 1.9
    assert np.allclose(frames[-1, 4:], expected, atol=1e-6)
    assert np.allclose(frames[:, :4] ** 2 @ [1, 1, 0, 0], 1.0, atol=1e-5)  # sin^2 + cos^2
    angles = np.degrees(np.arctan2(frames[:, 0], frames[:, 1]))
    assert np.allclose(angles / 30.0, np.round(angles / 30.0), atol=1e-3)  # 30-degree bins


def test_rewards_telescope_to_the_drop_in_distance():
    config = dataclasses.replace(SHORT, bonus=0.0)
    batch = WormPlateBatch(config, 50)
    rng = np.random.default_rng(1)
    batch.reset(rng)
    start, total = batch.distance(), np.zeros(50)
    for _ in range(config.episode_steps):
        total += batch.step(np.zeros(50, bool), rng)[1]
    assert np.allclose(total, 2 * (start - batch.distance()) / 1.9, atol=1e-4)


def test_vector_env_steps_many_plates_and_autoresets():
    envs = gym.make_vec(
        "neurorl/WormPlate-v0",
        num_envs=64,
        vectorization_mode="vector_entry_point",
        episode_seconds=2.0,
    )
    obs, _ = envs.reset(seed=0)
    assert obs.shape == (64, 90)
    for _ in range(6):  # 2 s at 3 decisions per second
        obs, reward, terminated, truncated, _ = envs.step(np.ones(64, dtype=np.int64))
    assert (terminated | truncated).all() and truncated.sum() >= 60
    obs, reward, terminated, truncated, _ = envs.step(np.ones(64, dtype=np.int64))
    assert (reward == 0).all() and not (terminated | truncated).any()
    frames = obs.reshape(64, 15, 6)
    assert np.allclose(frames, frames[:, -1:])  # fresh plates repeat their first frame


def test_same_seed_same_plates_and_wild_type_ignores_light():
    wild = dataclasses.replace(SHORT, line="wt")
    dark = run_episodes(wild, lambda obs, rng: np.zeros(len(obs), bool), 40, seed=5)
    lit = run_episodes(wild, lambda obs, rng: np.ones(len(obs), bool), 40, seed=5)
    assert np.array_equal(dark.returns, lit.returns)  # no opsin: light changes nothing
    aiy = dataclasses.replace(SHORT, line="aiy")
    aiy_lit = run_episodes(aiy, lambda obs, rng: np.ones(len(obs), bool), 40, seed=5)
    assert not np.array_equal(aiy_lit.returns, lit.returns)


def test_simulated_worm_matches_published_statistics():
    stats = validate.statistics(validate.simulate_tracks(300, 10, seed=0))
    assert 150 <= stats["speed_peak_um_s"] <= 210  # Roberts et al. 2016: ~180 um/s
    assert 1.2 <= stats["reorientation_rate_fit_per_min"] <= 1.9  # López-Cruz: 1.54
    assert 0.03 <= stats["reorientation_decay_fit_per_min"] <= 0.12  # 0.07
    assert stats["velocity_correlation_5s"] > 0.4 > 0.15 > stats["velocity_correlation_15s"]


def test_validate_command_prints_simulated_beside_published():
    parser = argparse.ArgumentParser()
    validate.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["worm", "validate", "--worms", "50", "--minutes", "3"])
    out = validate.run(args)
    assert "López-Cruz" in out and "| speed_peak_um_s |" in out


def test_aiy_light_suppresses_reorientations_and_speeds_up():
    gains = LINES["aiy"].modulation()
    assert gains.reorientation < 1 < gains.speed
    assert LINES["wt"].modulation() == (1.0, 1.0, 1.0, 1.0)
    assert all(effect.source for effect in NEURON_EFFECTS.values())


def test_connectome_table_holds_cook_2019_counts():
    chemical, gap = load_counts()
    index = CIRCUIT_CLASSES.index
    assert chemical[index("AWC"), index("AIY")] == 56  # AWCL->AIYL 22 + ... (both sides)
    assert chemical[index("AIY"), index("RIA")] == 101
    assert chemical[index("AIB"), index("RIM")] == 109
    assert gap[index("AVA"), index("VA")] > 0


def test_circuit_mode_reads_rates_from_command_interneurons():
    response = CircuitResponse(LINES["pan-inh"], 32)
    response.reset(np.ones(32, bool), np.random.default_rng(0))
    for _ in range(6):
        lit = response(np.ones(32, bool), 1 / 3)
    assert lit.speed.mean() < 0.95  # silencing every neuron slows the forward command
    config = dataclasses.replace(SHORT, line="aiy", response="circuit", episode_seconds=5.0)
    env = gym.make("neurorl/WormPlate-v0", config=config)
    env.reset(seed=0)
    assert np.isfinite(env.step(1)[1])


def test_obstacles_keep_worms_out_and_turn_them():
    config = dataclasses.replace(SHORT, obstacles=12, episode_seconds=300.0)
    batch = WormPlateBatch(config, 200)
    rng = np.random.default_rng(2)
    batch.reset(rng)
    r = config.obstacle_radius_cm
    centres = batch.obstacles
    assert centres.shape == (200, 12, 2) and (np.hypot(*centres.T) <= 2.0 - r + 1e-9).all()
    assert (np.hypot(*(centres - batch.target[:, None]).T) > r).all()  # the target is free
    contacts = 0
    for _ in range(config.episode_steps):
        batch.step(rng.random(200) < 0.1, rng)
        gap = np.hypot(*(centres - np.stack([batch.worms.x, batch.worms.y], 1)[:, None]).T) - r
        assert gap.min() > -1e-9  # no centroid inside an obstacle
        contacts += int((gap.min(0) < 1e-6).sum())
    assert contacts > 100  # worms meet the obstacles and stay at their edge
    free = WormPlateBatch(dataclasses.replace(config, obstacles=0), 200)
    assert free.obstacles.shape == (200, 0, 2)


def test_food_patch_draws_worms_to_the_target():
    off = lambda obs, rng: np.zeros(len(obs), bool)  # noqa: E731
    plain = run_episodes(dataclasses.replace(SHORT, episode_seconds=600.0), off, 200, seed=3)
    fed = run_episodes(dataclasses.replace(SHORT, episode_seconds=600.0, food=True), off, 200, 3)
    assert fed.success > plain.success + 0.1  # pirouettes up the odour gradient


def test_video_needs_moviepy_in_one_line(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "moviepy", None)  # as if not installed
    with pytest.raises(ConfigError, match=r"pip install 'neurorl\[video\]'"):
        video.record(SHORT, lambda obs: 0, tmp_path / "videos")
    assert not (tmp_path / "videos").exists()


def test_video_records_an_episode_through_record_video(tmp_path):
    pytest.importorskip("moviepy")
    config = dataclasses.replace(SHORT, obstacles=4, food=True, episode_seconds=4.0)
    paths = video.record(config, lambda obs: 1, tmp_path / "videos", episodes=2, seed=0, fps=6)
    assert len(paths) == 2 and all(path.stat().st_size > 1000 for path in paths)


def test_class_balanced_replay_draws_the_asked_share_of_light_on():
    light = torch.rand(20, 300, generator=torch.Generator().manual_seed(0)) < 0.1
    data = LightData(torch.zeros(20, 301, 90), light)
    generator = torch.Generator().manual_seed(1)
    episode, t = draw_transitions(data, (4, 2000), 0.5, generator)
    assert 0.45 < light[episode, t].float().mean() < 0.55
    episode, t = draw_transitions(data, (4, 2000), None, generator)
    assert 0.07 < light[episode, t].float().mean() < 0.13


def test_augmentation_rotates_and_shifts_consistently():
    batch = WormPlateBatch(SHORT, 8)
    rng = np.random.default_rng(0)
    obs = torch.from_numpy(batch.reset(rng))[None]
    next_obs = torch.from_numpy(batch.step(np.zeros(8, bool), rng)[0])[None]
    same = augment(obs, next_obs, torch.zeros(1, 8), torch.zeros(1, 8, 2))
    assert torch.allclose(same[0], obs, atol=1e-6) and torch.allclose(same[1], next_obs, atol=1e-6)
    turned, turned_next = augment(
        obs, next_obs, torch.full((1, 8), np.pi / 6), torch.zeros(1, 8, 2)
    )
    assert torch.allclose(
        plate_reward(turned, turned_next, SHORT), plate_reward(obs, next_obs, SHORT), atol=1e-5
    )
    frames = turned.unflatten(-1, (15, 6))
    assert torch.allclose(
        frames[..., 0] ** 2 + frames[..., 1] ** 2, torch.ones(1, 8, 15), atol=1e-5
    )


@pytest.mark.parametrize("spiking", [False, True])
def test_discrete_sac_learns_the_rewarded_action(spiking):
    generator = torch.Generator().manual_seed(0)
    members = 3
    config = SACConfig(ensemble=members, batch_size=32, spiking_actor=spiking)
    sac = DiscreteSAC(4, 2, config, generator)
    for _ in range(300):
        obs = torch.randn(members, 32, 4, generator=generator)
        actions = torch.randint(2, (members, 32), generator=generator)
        rewards = actions.float()  # action 1 pays 1, action 0 nothing
        sac.update(Batch(obs, actions, rewards, obs, torch.ones(members, 32)))
    assert (sac.act(torch.randn(100, 4, generator=generator)) == 1).all()


@pytest.fixture(scope="module")
def tiny_trainer():
    config = WormConfig(
        env=dataclasses.replace(SHORT, episode_seconds=30.0),
        data=DataConfig(hours=0.5, episode_minutes=5.0),
        sac=SACConfig(ensemble=2),
        train=WormTrainConfig(gradient_steps=40, steps_per_iteration=20, validation_episodes=8),
    )
    return WormSACTrainer(config)


def test_trainer_keeps_the_contract_and_resumes(tiny_trainer):
    trainer = tiny_trainer
    assert trainer.data.obs.shape == (6, 901, 90)
    assert 0.07 < trainer.data.light.float().mean() < 0.13  # light on with probability 0.1
    row = trainer.train_step()
    assert row["iteration"] == 1 and 0 <= row["val_success"] <= 1
    saved = io.BytesIO()
    torch.save(trainer.state_dict(), saved)
    saved.seek(0)
    resumed = WormSACTrainer(trainer.config)
    resumed.load_state_dict(torch.load(saved, weights_only=True))
    assert torch.equal(resumed.params(), trainer.params())
    assert resumed.train_step() == trainer.train_step()
    returns, stats = trainer.evaluate(trainer.params(), 6, env_seed=42)
    assert returns.shape == (6,) and 0 <= stats["success"] <= 1
    action, _ = trainer.agent(trainer.params()).predict(np.zeros(90, np.float32))
    assert action in (0, 1)


def test_spiking_actor_trains_and_exports_to_nir(tmp_path):
    config = WormConfig(
        env=dataclasses.replace(SHORT, episode_seconds=20.0),
        data=DataConfig(hours=0.2, episode_minutes=4.0),
        sac=SACConfig(ensemble=1, spiking_actor=True),
        train=WormTrainConfig(gradient_steps=10, steps_per_iteration=10, validation_episodes=4),
    )
    trainer = WormSACTrainer(config)
    before = trainer.params()
    trainer.train_step()
    params = trainer.params()
    assert not torch.equal(before, params)  # surrogate gradients reach the spiking actor
    obs = torch.from_numpy(WormPlateBatch(config.env, 16).reset(np.random.default_rng(0)))
    actor = trainer.actor_with(params)
    assert torch.equal(actor(obs[None]), trainer.sac.actor(obs[None]))
    write_graph(tmp_path / "policy.nir", trainer.to_nir(params))
    graph = read_graph(tmp_path / "policy.nir")
    assert graph.nodes["fc0"].weight.shape == (64, 90)
    assert graph.nodes["readout_fc"].weight.shape == (2, 64)
    relu = WormSACTrainer(dataclasses.replace(config, sac=SACConfig(ensemble=1)))
    with pytest.raises(NotExportableError, match="ReLU"):
        relu.to_nir(relu.params())
    ensemble = dataclasses.replace(config, sac=SACConfig(ensemble=2, spiking_actor=True))
    with pytest.raises(NotExportableError, match="ensemble of 2"):
        WormSACTrainer(ensemble).to_nir(torch.zeros(1))


def test_online_training_adds_the_agents_own_episodes_and_resumes():
    config = WormConfig(
        env=dataclasses.replace(SHORT, episode_seconds=20.0),
        data=DataConfig(hours=0.1, episode_minutes=2.0),
        sac=SACConfig(ensemble=2),
        train=WormTrainConfig(
            gradient_steps=10, steps_per_iteration=5, validation_episodes=4, online_episodes=2
        ),
    )
    trainer = WormSACTrainer(config)
    offline = trainer.data.light.shape[0]
    row = trainer.train_step()
    assert trainer.data.light.shape[0] == offline + 2
    assert row["env_steps"] == (offline + 2) * 360  # 2-minute plates at 3 decisions per second
    saved = io.BytesIO()
    torch.save(trainer.state_dict(), saved)
    saved.seek(0)
    resumed = WormSACTrainer(config)
    resumed.load_state_dict(torch.load(saved, weights_only=True))
    assert torch.equal(resumed.data.obs, trainer.data.obs)
    assert resumed.train_step() == trainer.train_step()
    assert trainer.data.light.shape[0] == offline + 4


def test_policy_map_and_controls(tiny_trainer):
    probability = tiny_trainer.light_probability(tiny_trainer.params())
    p, *_ = policy_map(probability, SHORT)
    assert p.shape == (9, 9, 18, 36) and ((p >= 0) & (p <= 1)).all()
    act = lambda obs: probability(obs) > 0.5  # noqa: E731
    comparison = compare_with_controls(SHORT, act, 10, seed=0)
    assert comparison.light_off.light_on.max() == 0
    assert comparison.random_matched.light_on.mean() == pytest.approx(comparison.on_rate, abs=0.1)


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("env.target_max_cm=2.5", "outside the plate"),
        ("env.neurons=[XYZ]", "unknown neuron 'XYZ'"),
        ("env.history=0", "env.history must be >= 1"),
        ("env.decision_rate_hz=0", "env.decision_rate_hz must be > 0"),
        ("env.decision_rate_hz=-3", "env.decision_rate_hz must be > 0"),
        ("env.obstacles=-1", "env.obstacles must be >= 0"),
        ("train.light_on_fraction=1.5", "train.light_on_fraction must be in (0, 1)"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(cli, tmp_path, override, fragment):
    code, _, err = cli("train", "worm-aiy-sac", "--quiet", "--out", tmp_path, "--set", override)
    assert_clean_error(code, err, fragment)
    assert not any(tmp_path.iterdir())


def test_benchmark_refuses_bad_flags_before_running(tmp_path):
    script = Path(__file__).resolve().parent.parent / "benchmarks" / "worm.py"
    done = subprocess.run(
        [sys.executable, str(script), "--lines", "aiy,nope", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "--lines must name lines of" in done.stderr
    assert not any(tmp_path.iterdir())
