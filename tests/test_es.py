import pytest
import torch

from neurorl.learn.es import (
    ESConfig,
    EvolutionStrategy,
    centered_ranks,
    top_pair_step,
    zscore,
)


def test_fitness_shaping():
    ranks = centered_ranks(torch.tensor([10.0, -3.0, 7.0, 0.5]))
    assert torch.allclose(ranks, torch.tensor([0.5, -0.5, 1 / 6, -1 / 6]))
    tied = centered_ranks(torch.tensor([500.0, 20.0, 500.0, 500.0, 20.0, 100.0]))
    assert torch.allclose(tied, torch.tensor([0.3, -0.4, 0.3, 0.3, -0.4, -0.1]))
    z = zscore(torch.tensor([1.0, 2.0, 3.0]))
    assert torch.allclose(z, torch.tensor([-1.0, 0.0, 1.0]))
    assert torch.equal(zscore(torch.ones(4)), torch.zeros(4))


def _optimise(
    config: ESConfig, start: torch.Tensor, target: torch.Tensor, generations: int
) -> torch.Tensor:
    es = EvolutionStrategy(start, config)
    generator = torch.Generator().manual_seed(0)
    for _ in range(generations):
        members = es.ask(generator)
        es.tell(-((members - target) ** 2).sum(1))
    return es.center.detach()


def test_openai_es_minimises_a_sphere():
    target = torch.tensor([1.0, -2.0, 0.5, 3.0])
    config = ESConfig(population=32, sigma=0.1, learning_rate=0.05)
    center = _optimise(config, torch.zeros(4), target, 300)
    assert (center - target).norm() < 0.15


def test_ars_minimises_a_sphere_from_its_best_pairs():
    target = torch.tensor([1.0, -2.0, 0.5, 3.0])
    config = ESConfig(
        variant="ars",
        population=32,
        sigma=0.1,
        learning_rate=0.02,
        optimizer="sgd",
        top_fraction=0.5,
    )
    center = _optimise(config, torch.zeros(4), target, 400)
    assert (center - target).norm() < 0.15


def test_top_pair_step_uses_the_best_pairs_only():
    eps = torch.eye(3)  # pairs k: +e_k (members 0-2) and -e_k (members 3-5)
    noise = torch.cat([eps, -eps])
    fitness = torch.tensor([5.0, 1.0, 0.0, 3.0, 1.0, 10.0])  # best pairs: 2 (10) then 0 (5)
    step = top_pair_step(fitness, noise, 2 / 3)
    spread = torch.tensor([5.0, 0.0, 3.0, 10.0]).std()
    assert torch.allclose(step, torch.tensor([2.0, 0.0, -10.0]) / (2 * spread))
    assert torch.equal(top_pair_step(torch.ones(6), noise, 1.0), torch.zeros(3))


def test_multiplicative_es_scales_weights_towards_target():
    # The paper's rule moves each weight by a factor: positive targets from positive starts.
    target = torch.tensor([2.0, 0.5, 1.5])
    config = ESConfig(
        variant="multiplicative",
        population=10,
        sigma=0.1,
        learning_rate=1.0,
        optimizer="sgd",
        antithetic=False,
        fitness_shaping="zscore",
    )
    center = _optimise(config, torch.ones(3), target, 300)
    assert (center - target).norm() < 0.2


def test_antithetic_members_mirror_the_centre():
    es = EvolutionStrategy(torch.tensor([1.0, 2.0]), ESConfig(population=6, sigma=0.5))
    members = es.ask(torch.Generator().manual_seed(1))
    assert torch.allclose(members[:3] + members[3:], 2 * torch.tensor([1.0, 2.0]).expand(3, 2))


def test_state_dict_round_trip_continues_identically():
    config = ESConfig(population=8)

    def step(es, generation):
        members = es.ask(torch.Generator().manual_seed(generation))
        es.tell(-(members**2).sum(1))

    a = EvolutionStrategy(torch.ones(5), config)
    for g in range(3):
        step(a, g)
    b = EvolutionStrategy(torch.zeros(5), config)
    b.load_state_dict(a.state_dict())
    for g in range(3, 6):
        step(a, g)
        step(b, g)
    assert torch.equal(a.center, b.center)


def test_annealed_step_decays_linearly_and_a_constant_one_stays():
    decaying = EvolutionStrategy(torch.zeros(2), ESConfig(learning_rate=0.1, learning_rate_end=0))
    constant = EvolutionStrategy(torch.zeros(2), ESConfig(learning_rate=0.1))
    for es in (decaying, constant):
        es.anneal(0.75)
    assert decaying.optimiser.param_groups[0]["lr"] == pytest.approx(0.025)
    assert constant.optimiser.param_groups[0]["lr"] == 0.1


def test_members_that_all_tie_leave_the_centre_where_it_is():
    """On capped returns every member may score the same: no information, so no step (ties
    broken by member order would step along the sum of the antithetic pairs' -eps)."""
    es = EvolutionStrategy(torch.zeros(5), ESConfig(population=8, sigma=0.5, learning_rate=1.0))
    es.ask(torch.Generator().manual_seed(0))
    es.tell(torch.full((8,), 500.0))
    assert torch.equal(es.center.detach(), torch.zeros(5))
