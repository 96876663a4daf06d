"""STDP-RL and evolution over a batch of seeds: K networks stepped as one tensor program, each
member's run the same as its seed's run alone, each with its own run folder."""

import json
from pathlib import Path

import pytest
import torch
from conftest import TINY

from neurorl.core import configure_cpu
from neurorl.experiments.checkpoint import load_checkpoint
from neurorl.experiments.registry import get_experiment
from neurorl.nets.cartpole_network import (
    CartPoleNetworkConfig,
    build_network,
    initial_state,
    run_window,
    stack_networks,
)
from neurorl.nets.cartpole_policy import connectivity_stream, stack_policies

STDP_RL = "cartpole-snn-stdprl"
# a few hundred env steps of one stage with a large rate (weights change within episodes),
# dt 2 ms, eager; homeostasis and validation often, so that every per-member path runs
SHORT = [
    "--set",
    "stages=[{env_steps: 250, window_ms: 5, lifetime_ms: 250, rate: 0.05, angvel_weight: 1.2, "
    "positive_bias: 2, opposite_factor: 0.9}]",
    *("--set", "net.compile=false", "--set", "net.network.dt_ms=2"),
    *("--set", "plasticity.normalize_every=5", "--set", "plasticity.gain_control_every=7"),
    *("--set", "train.validate_every=4", "--set", "train.validation_episodes=2"),
    *("--set", "eval.episodes=3", "--quiet"),
]


def test_a_stack_of_networks_spikes_as_each_network_alone():
    configure_cpu()
    config = CartPoleNetworkConfig(dt_ms=2.0)
    networks, weights = [], []
    for seed in (0, 1):
        generator = connectivity_stream(seed)
        networks.append(build_network(config, generator))
        weights.append(networks[-1].init_weights(1, generator))
    stack = stack_networks(networks)
    assert stack.members == 2 and networks[0].members is None
    assert not torch.equal(networks[0].modules[0].local, networks[1].modules[0].local)
    stacked_weights = type(weights[0])(*(torch.cat(w) for w in zip(*weights, strict=True)))
    assert torch.equal(stack.unflatten(stack.flatten(stacked_weights)).ea_em, stacked_weights.ea_em)
    states = [initial_state(network, 1, 1) for network in networks]
    state = initial_state(stack, 2, 1)
    generator = torch.Generator().manual_seed(0)
    spikes = 0.0
    for _ in range(40):
        obs = 0.2 * torch.randn(2, 1, 4, generator=generator)
        out = run_window(obs, state, stack, stacked_weights, record=True)
        state = out.state
        for k in (0, 1):
            alone = run_window(obs[k : k + 1], states[k], networks[k], weights[k], record=True)
            states[k] = alone.state
            assert torch.equal(alone.spikes[:, 0], out.spikes[:, k])
        spikes += float(out.spikes.sum())
    assert spikes > 100  # the comparison saw real activity


def test_a_stack_runs_any_rows_per_network_as_each_network_alone():
    """Rows of three networks, unevenly many, some leaving the batch: each row spikes as in
    its own network's batch (the paper ES's members and centre on several seeds at once)."""
    configure_cpu()
    net = get_experiment("cartpole-snn-evol-paper").default_config().net
    net = type(net)(network=CartPoleNetworkConfig(dt_ms=2.0))
    policies = [net.build(4, 2, seed) for seed in (0, 1, 2)]
    rows = (3, 1, 4)
    generator = torch.Generator().manual_seed(0)
    params = [
        p.initial_parameters() * (1 + 0.3 * torch.rand(n, p.num_parameters, generator=generator))
        for p, n in zip(policies, rows, strict=True)
    ]
    stack = stack_policies(policies).with_rows(rows)
    state = stack.start(torch.cat(params), 1)
    alone = [p.start(x, 1) for p, x in zip(policies, params, strict=True)]
    kept = [torch.arange(n) for n in rows]  # each network's rows still in the batch
    spikes = 0.0
    for step in range(30):
        if step == 12:  # rows leave: network 1 loses its only row, the others one each
            keep = torch.tensor([0, 2, 5, 6, 7])
            state = stack.select(state, keep)
            kept = [
                torch.tensor([0, 2]),
                torch.tensor([], dtype=torch.long),
                torch.tensor([1, 2, 3]),
            ]
            alone = [p.select(a, k) for p, a, k in zip(policies, alone, kept, strict=True)]
        obs = 0.2 * torch.randn(sum(len(k) for k in kept), 1, 4, generator=generator)
        out = run_window(obs, state.network, stack.network, state.weights)
        state = state._replace(network=out.state)
        start = 0
        for k, policy in enumerate(policies):
            n = len(kept[k])
            if n:
                mine = run_window(
                    obs[start : start + n], alone[k].network, policy.network, alone[k].weights
                )
                alone[k] = alone[k]._replace(network=mine.state)
                assert torch.equal(mine.counts, out.counts[start : start + n])
            start += n
        spikes += float(out.total.sum())
    assert spikes > 1000  # the comparison saw real activity
    with pytest.raises(ValueError, match="do not add up"):
        stack.with_rows((1, 1, 1)).start(torch.cat(params), 1)


def _metrics(run: Path) -> str:
    return (run / "metrics.csv").read_text()


def _assert_same_checkpoints(run: Path, other: Path) -> None:
    """latest.pt and best.pt of two runs hold the same values (all but the wall time)."""
    for name in ("latest.pt", "best.pt"):
        mine, theirs = (load_checkpoint(r / "checkpoints" / name) for r in (run, other))
        flat = [(mine, theirs)]
        while flat:
            a, b = flat.pop()
            if isinstance(a, dict):
                assert a.keys() == b.keys()
                flat += [(a[key], b[key]) for key in a if key != "wall_seconds"]
            elif isinstance(a, torch.Tensor):
                assert torch.equal(a, b)
            else:
                assert a == b


def test_each_member_of_a_batch_of_seeds_is_its_seed_run_alone(cli, tmp_path):
    code, lines, _ = cli(
        "train", STDP_RL, "--seeds", "2", "--seed", "4", "--out", tmp_path / "b", *SHORT
    )
    assert code == 0
    batch = sorted(Path(line) for line in lines)
    assert [path.name.rsplit("-", 1)[-1] for path in batch] == ["seed4", "seed5"]
    code, lines, _ = cli("train", STDP_RL, "--seed", "5", "--out", tmp_path / "a", *SHORT)
    assert code == 0
    alone = Path(lines[-1])
    assert _metrics(batch[1]) == _metrics(alone)
    assert _metrics(batch[0]) != _metrics(alone)  # its own seed: other episodes
    assert len(_metrics(alone).splitlines()) > 5
    _assert_same_checkpoints(batch[1], alone)  # weights, network state, homeostasis
    # the batch's elapsed time is shared: each run says how many seeds shared it
    trained = [json.loads((run / "results.json").read_text())["train"] for run in (*batch, alone)]
    assert [t["seeds_in_batch"] for t in trained] == [2, 2, 1]
    # a member's folder is an ordinary run: it evaluates (and resumes) alone
    code, lines, _ = cli("eval", batch[1], "--episodes", "2")
    assert code == 0 and "test mean return" in lines[0]


EVOLUTION = "cartpole-snn-evol-quick"
# common starts, replayed failed starts, members' own time limit, validation, and a stop
# score that the seeds reach at different generations (3, 6 and 5): runs leave the batch
EVOLUTION_SHORT = [
    *("--set", "train.generations=6", "--set", "net.compile=false", "--set", "es.population=6"),
    *("--set", "train.validation_episodes=3", "--set", "train.stop_score=22"),
    *("--set", "train.member_max_steps=80", "--set", "eval.episodes=3", "--quiet"),
]


def test_each_run_of_an_evolution_batch_is_its_seed_run_alone(cli, tmp_path):
    code, lines, _ = cli(
        "train", EVOLUTION, "--seeds", "3", "--out", tmp_path / "b", *EVOLUTION_SHORT
    )
    assert code == 0
    batch = sorted(Path(line) for line in lines)
    generations = [len(_metrics(run).splitlines()) - 1 for run in batch]
    assert generations == [3, 6, 5]  # seeds 0 and 2 stopped on their criterion before seed 1
    for seed in (0, 1):
        code, lines, _ = cli(
            "train", EVOLUTION, "--seed", str(seed), "--out", tmp_path / "a", *EVOLUTION_SHORT
        )
        assert code == 0
        alone = Path(lines[-1])
        assert _metrics(batch[seed]) == _metrics(alone)
        _assert_same_checkpoints(batch[seed], alone)  # the ES's centre and optimiser, best.pt
        results = [json.loads((run / "results.json").read_text()) for run in (batch[seed], alone)]
        assert results[0]["eval"] == results[1]["eval"]
        assert [r["train"]["seeds_in_batch"] for r in results] == [3, 1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((STDP_RL, "--seeds", "0"), "--seeds must be >= 1"),
        ((TINY, "--seeds", "2"), "trains one seed at a time"),
    ],
)
def test_a_bad_batch_of_seeds_is_one_line_and_writes_nothing(cli, tmp_path, args, message):
    code, _, err = cli("train", *args, "--out", tmp_path)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())
