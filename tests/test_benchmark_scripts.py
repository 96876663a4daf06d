"""The benchmark scripts' own logic (their bad input: test_bad_input.py)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from held_out_test import train_then_test


@pytest.mark.parametrize(("max_episodes", "generation", "episodes"), [(40, 3, 31), (7, 0, 0)])
def test_held_out_test_ends_at_the_last_generation_within_the_episode_budget(
    max_episodes, generation, episodes
):
    """Generations of 8 episodes, every second one 7 more (validation, counted): 8, 23, 31,
    46. A budget of 40 ends the seed at generation 3 (31 episodes), tested once there; a
    budget smaller than the first generation tests the untrained centre (generation 0)."""
    overrides = {
        "es.population": "4",
        "train.episodes_per_member": "1",
        "train.center_episodes": "4",
        "train.stop_score": "1e9",
        "train.validation_episodes": "7",
        "train.validate_every": "2",
        "train.checkpoint": "last",
        "eval.episodes": "3",
    }
    end = train_then_test("cartpole-ann-es", 0, overrides, max_episodes)
    assert (end["iteration"], end["episodes"], end["stop"]) == (generation, episodes, "budget")
    assert end["test_mean"] > 0


def test_held_out_test_stops_on_the_trainers_own_criterion():
    """A stop score the centre reaches at once: the trainer's own stop, not the test's."""
    overrides = {"es.population": "4", "train.episodes_per_member": "1"}
    overrides |= {"train.stop_score": "5", "train.validation_episodes": "2", "eval.episodes": "3"}
    end = train_then_test("cartpole-ann-es", 0, overrides, None)
    assert end["stop"] == "own criterion" and end["iteration"] < 100
