import pytest

from neurorl.config import apply_overrides, flatten, from_mapping, parse_set_options, to_yaml
from neurorl.errors import ConfigError
from neurorl.experiments.evolution import EvolutionConfig


def test_overrides_are_typed_and_nested():
    config = apply_overrides(
        EvolutionConfig(),
        {
            "es.population": "32",
            "net.beta": "0.5",
            "es.antithetic": "false",
            "train.stop_score": "none",
        },
    )
    assert config.es.population == 32 and config.net.beta == 0.5
    assert config.es.antithetic is False and config.train.stop_score is None
    assert EvolutionConfig().es.population == 64  # the default is untouched


def test_unknown_key_suggests_the_closest():
    with pytest.raises(
        ConfigError, match=r"unknown config key 'es.popsize' \(did you mean 'es.population'\?\)"
    ):
        apply_overrides(EvolutionConfig(), {"es.popsize": "3"})


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("es.population", "many", "expects int"),
        ("net.beta", "x", "expects float"),
        ("net.reset", "zero", "expects one of 'soft', 'hard'"),
        ("es.antithetic", "maybe", "expects bool"),
    ],
)
def test_wrong_type_names_key_and_type(key, value, expected):
    with pytest.raises(ConfigError, match=rf"config key '{key}' {expected}"):
        apply_overrides(EvolutionConfig(), {key: value})


def test_impossible_values_are_rejected():
    with pytest.raises(ConfigError, match=r"net\.beta"):
        apply_overrides(EvolutionConfig(), {"net.beta": "1.5"})
    with pytest.raises(ConfigError, match=r"es\.population must be >= 2"):
        apply_overrides(EvolutionConfig(), {"es.population": "0"})


def test_set_option_parsing():
    assert parse_set_options(["a.b=1", "c = x"]) == {"a.b": "1", "c": "x"}
    with pytest.raises(ConfigError, match="key=value"):
        parse_set_options(["a.b"])


def test_yaml_round_trip():
    import yaml

    config = apply_overrides(EvolutionConfig(), {"seed": "7", "net.hidden": "9"})
    assert from_mapping(yaml.safe_load(to_yaml(config)), EvolutionConfig(), "test") == config
    assert flatten(config)["net.hidden"] == 9


def test_tuple_fields_round_trip_through_yaml_and_set():
    from dataclasses import dataclass, field

    import yaml

    from neurorl.config import from_mapping, to_yaml

    @dataclass(frozen=True)
    class Pair:
        name: str
        weight: float = 1.0

    @dataclass(frozen=True)
    class Config:
        window: tuple[float, float] = (3.0, 12.0)
        pairs: tuple[Pair, ...] = (Pair("a"), Pair("b", 2.0))
        section: Pair = field(default_factory=lambda: Pair("s"))

    config = Config()
    assert from_mapping(yaml.safe_load(to_yaml(config)), Config(), "test") == config
    changed = apply_overrides(config, {"window": "[1, 2.5]", "pairs": "[{name: c}]"})
    assert changed.window == (1.0, 2.5) and changed.pairs == (Pair("c"),)
    with pytest.raises(ConfigError, match=r"'window' expects a list"):
        apply_overrides(config, {"window": "[1]"})
    with pytest.raises(ConfigError, match=r"'pairs\[0\]' has no field 'nme'"):
        apply_overrides(config, {"pairs": "[{nme: c}]"})
    with pytest.raises(ConfigError, match=r"'pairs\[0\]\.weight' expects float"):
        apply_overrides(config, {"pairs": "[{name: c, weight: heavy}]"})
