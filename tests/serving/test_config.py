"""ServeConfig and ModelEntry: JSON round trips, defaults, and refusals with clear words."""

from __future__ import annotations

import json

import pytest

from kubeline.errors import ConfigError
from kubeline.serving import ModelEntry, ServeConfig
from kubeline.serving.config import default_workers, version_key


def test_round_trip_keeps_every_field() -> None:
    entry = ModelEntry(
        name="iris",
        version="3",
        path="/models/iris.joblib",
        feature_names=["a", "b"],
        feature_types=["float64", "int64"],
        classes=[0, 1, 2],
        metadata={"run_id": "abc", "metrics": {"accuracy": 0.97}},
    )
    config = ServeConfig(models=[entry], max_batch_size=8, max_latency_ms=1.5, workers=2)
    again = ServeConfig.from_json(config.to_json())
    assert again == config
    assert again.models[0].metadata == {"run_id": "abc", "metrics": {"accuracy": 0.97}}


def test_defaults() -> None:
    config = ServeConfig(models=[ModelEntry("m", "1", "m.joblib")])
    assert (config.max_batch_size, config.max_latency_ms) == (64, 2.0)
    assert config.max_body_bytes == 16 * 1024 * 1024
    assert config.workers == 1
    entry = config.models[0]
    assert entry.framework == "sklearn"
    assert (entry.feature_names, entry.feature_types, entry.classes, entry.metadata) == (
        [],
        [],
        [],
        {},
    )
    assert default_workers() >= 1


def test_json_is_plain_json() -> None:
    config = ServeConfig(models=[ModelEntry("m", "1", "m.joblib")])
    data = json.loads(config.to_json())
    assert data["models"][0]["name"] == "m"
    assert data["max_body_bytes"] == 16 * 1024 * 1024


def test_versions_sort_numerically_newest_last() -> None:
    config = ServeConfig(
        models=[
            ModelEntry("m", "10", "a"),
            ModelEntry("m", "9", "b"),
            ModelEntry("m", "2", "c"),
            ModelEntry("other", "1", "d"),
        ]
    )
    assert [e.version for e in config.versions("m")] == ["2", "9", "10"]
    assert max(["9", "10", "beta"], key=version_key) == "10"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[]", "must be a JSON object"),
        ("{bad", "not valid JSON"),
        ('{"models": []}', "at least one model"),
        ('{"models": [{"name": "m", "version": "1"}]}', "lacks path"),
        ('{"models": [{"name": "m", "version": "1", "path": "p", "colour": 1}]}', "colour"),
        ('{"models": [{"name": "m", "version": "1", "path": "p"}], "workerz": 2}', "workerz"),
        ('{"models": [{"name": "a/b", "version": "1", "path": "p"}]}', "not usable in a URL"),
        ('{"models": [{"name": "m", "version": 1, "path": "p"}]}', "must be a string"),
        ('{"models": [{"name": "m", "version": "1", "path": "p"}], "workers": 0}', "workers"),
        ('{"models": [{"name": "m", "version": "1", "path": "p"}], "max_batch_size": 0}', ">= 1"),
    ],
)
def test_bad_configs_are_refused(text: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        ServeConfig.from_json(text)


def test_duplicate_versions_and_mismatched_types_are_refused() -> None:
    with pytest.raises(ConfigError, match="listed twice"):
        ServeConfig(models=[ModelEntry("m", "1", "a"), ModelEntry("m", "1", "b")])
    with pytest.raises(ConfigError, match="one type per name"):
        ModelEntry("m", "1", "a", feature_names=["x", "y"], feature_types=["float64"])
    with pytest.raises(ConfigError, match="only 'sklearn'"):
        ModelEntry("m", "1", "a", framework="onnx")
