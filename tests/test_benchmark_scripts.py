"""The benchmark scripts' own logic (their bad input: test_bad_input.py)."""

import csv
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from evolution_test_curve import test_curve as curve


@pytest.mark.parametrize(("max_episodes", "generation", "episodes"), [(40, 3, 31), (7, 0, 0)])
def test_test_curve_ends_at_the_last_generation_within_the_episode_budget(
    tmp_path, max_episodes, generation, episodes
):
    """Generations of 8 episodes, every second one 7 more (validation): 8, 23, 31, 46. A budget
    of 40 ends the seed at generation 3 (31 episodes), tested there, though a generation as
    large as the last would have fit; a budget smaller than the first ends it at the
    untrained centre (generation 0)."""
    overrides = {
        "es.population": "4",
        "train.episodes_per_member": "1",
        "train.center_episodes": "4",
        "train.stop_score": "1e9",
        "train.validation_episodes": "7",
        "train.validate_every": "2",
        "eval.episodes": "3",
    }
    rows = curve("cartpole-ann-es", 0, overrides, 2, max_episodes, tmp_path)
    assert [(r["iteration"], r["episodes"]) for r in rows][-1] == (generation, episodes)
    assert all(r["episodes"] <= max_episodes for r in rows)
    assert [r["iteration"] for r in rows] == [*range(2, generation, 2), generation]
    with (tmp_path / "curve-seed0.csv").open() as file:
        assert [int(r["iteration"]) for r in csv.DictReader(file)] == [r["iteration"] for r in rows]
