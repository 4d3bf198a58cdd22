"""What a model, an alias and a reference may look like."""

from __future__ import annotations

import pytest

from kubeline.errors import ConfigError
from kubeline.registry import ModelReference, check_alias, check_model_name, parse_reference


@pytest.mark.parametrize(
    ("text", "reference"),
    [
        ("iris", ModelReference("iris")),
        ("iris:3", ModelReference("iris", 3)),
        ("iris@production", ModelReference("iris", alias="production")),
        ("  my.model-2:10 ", ModelReference("my.model-2", 10)),
    ],
    ids=["name", "version", "alias", "stripped"],
)
def test_references_parse_and_print_back(text: str, reference: ModelReference) -> None:
    assert parse_reference(text) == reference
    assert parse_reference(str(reference)) == reference


@pytest.mark.parametrize("text", ["", "iris:", "iris:x", "iris@", "-iris", "a b", "iris:1@x"])
def test_what_is_not_a_reference_says_the_three_forms(text: str) -> None:
    with pytest.raises(ConfigError, match=r"Use NAME .* NAME:VERSION .* NAME@ALIAS"):
        parse_reference(text)


def test_names_and_aliases() -> None:
    assert check_model_name(" iris ") == "iris"
    assert check_alias(" production ") == "production"
    for bad in ["", "-x", "a/b", "x" * 129]:
        with pytest.raises(ConfigError, match="cannot name a model"):
            check_model_name(bad)
    with pytest.raises(ConfigError, match="not all digits"):
        check_alias("2")
