"""The model zoo: families, seeded trial sampling, and estimator construction."""

from __future__ import annotations

import json

import pytest
from sklearn.base import is_classifier

from kubeline.errors import ConfigError
from kubeline.ml.zoo import FAMILIES, Trial, make_estimator, sample_trials

ALL = list(FAMILIES)


def test_sample_trials_starts_each_family_with_its_baseline() -> None:
    trials = sample_trials(["logistic_regression", "knn"], trials_per_family=3, seed=0)
    assert [t.trial_id for t in trials] == [
        "logistic_regression-0",
        "logistic_regression-1",
        "logistic_regression-2",
        "knn-0",
        "knn-1",
        "knn-2",
    ]
    assert trials[0].params == FAMILIES["logistic_regression"].baseline
    assert trials[3].params == FAMILIES["knn"].baseline
    assert all(t.family == t.trial_id.rsplit("-", 1)[0] for t in trials)


def test_one_trial_per_family_is_just_the_baselines() -> None:
    trials = sample_trials(ALL, trials_per_family=1)
    assert [(t.family, t.params) for t in trials] == [(f, FAMILIES[f].baseline) for f in ALL]


def test_draws_come_from_the_family_search_space() -> None:
    trials = sample_trials(["random_forest", "svm"], trials_per_family=6, seed=3)
    for trial in [t for t in trials if not t.trial_id.endswith("-0")]:
        space = FAMILIES[trial.family].space
        assert set(trial.params) == set(space)
        for name, value in trial.params.items():
            if isinstance(space[name], list):
                assert value in space[name]
    knn = sample_trials(["knn"], trials_per_family=8, seed=3)[1:]
    assert all(3 <= t.params["n_neighbors"] < 31 for t in knn)


def test_same_seed_same_trials() -> None:
    assert sample_trials(ALL, 4, seed=11) == sample_trials(ALL, 4, seed=11)


def test_different_seed_different_draws() -> None:
    first = [t.params for t in sample_trials(ALL, 4, seed=11)]
    second = [t.params for t in sample_trials(ALL, 4, seed=12)]
    assert first != second
    baselines = [FAMILIES[f].baseline for f in ALL]
    assert first[::4] == second[::4] == baselines  # the baselines do not depend on the seed


def test_repeated_families_are_sampled_once_in_order() -> None:
    trials = sample_trials(["knn", "svm", "knn"], trials_per_family=2)
    assert [t.family for t in trials] == ["knn", "knn", "svm", "svm"]


def test_trials_survive_a_json_round_trip() -> None:
    trials = sample_trials(ALL, trials_per_family=5, seed=2)
    text = json.dumps([t.to_dict() for t in trials])  # no numpy scalars left
    assert [Trial.from_dict(d) for d in json.loads(text)] == trials
    values = [v for t in trials for v in t.params.values()]
    assert {type(v) for v in values} <= {int, float, str, type(None)}  # plain Python


def test_trial_from_dict_without_params() -> None:
    assert Trial.from_dict({"trial_id": "knn-0", "family": "knn"}) == Trial("knn-0", "knn", {})


@pytest.mark.parametrize(
    ("families", "per_family", "pattern"),
    [
        (["logistic_regression", "xgboost"], 2, "Unknown model family 'xgboost'. Known families: "),
        ([], 2, "Name at least one model family. Known families: logistic_regression, "),
        (["knn"], 0, "trials_per_family must be at least 1. Got 0 instead"),
        (["knn"], -2, "trials_per_family must be at least 1. Got -2 instead"),
    ],
    ids=["unknown-family", "no-family", "zero-trials", "negative-trials"],
)
def test_sample_trials_refuses_bad_input(
    families: list[str], per_family: int, pattern: str
) -> None:
    with pytest.raises(ConfigError, match=pattern):
        sample_trials(families, per_family)


# ---------------------------------------------------------------- make_estimator


@pytest.mark.parametrize("trial", sample_trials(ALL, 3, seed=5), ids=lambda t: t.trial_id)
def test_every_sampled_trial_builds_a_classifier(trial: Trial) -> None:
    estimator = make_estimator(trial.family, trial.params, seed=9)
    assert is_classifier(estimator)
    params = estimator.get_params()
    for name, value in trial.params.items():
        # svm wraps SVC in a calibrator: its parameters sit under "estimator__".
        assert params.get(name, params.get(f"estimator__{name}")) == value


@pytest.mark.parametrize(
    ("family", "seeded"),
    [(name, family.seeded) for name, family in FAMILIES.items()],
    ids=ALL,
)
def test_seeded_families_get_the_seed(family: str, seeded: bool) -> None:
    params = make_estimator(family, {}, seed=123).get_params()
    if seeded:
        assert params["random_state"] == 123
    else:
        assert params.get("random_state") is None
        assert params.get("estimator__random_state") is None


def test_make_estimator_does_not_change_the_params() -> None:
    params = {"n_estimators": 10}
    make_estimator("random_forest", params, seed=1)
    assert params == {"n_estimators": 10}


def test_make_estimator_unknown_family() -> None:
    with pytest.raises(ConfigError, match=r"Unknown model family 'tree'\. Known families: "):
        make_estimator("tree", {})


@pytest.mark.parametrize(
    ("family", "params"),
    [
        ("knn", {"depth": 3}),
        ("logistic_regression", {"max_iter": 10}),  # already set by the family
    ],
    ids=["unknown-param", "duplicate-param"],
)
def test_make_estimator_bad_parameters(family: str, params: dict) -> None:
    with pytest.raises(ConfigError, match=f"Bad parameters for model family '{family}'"):
        make_estimator(family, params)
