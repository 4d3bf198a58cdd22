"""KUBELINE_IMAGE, resolved once at the edge: the compile entry points and the KServe manifest
take the resolved image as a value, and nothing reads the variable at import time.

No ``from __future__ import annotations``: KFP reads the real annotations of the components.
"""

import importlib
from datetime import datetime, timezone
from typing import Any

import pytest
from kfp import dsl

from kubeline.deploy.kserve import inference_service
from kubeline.pipelines import image as image_module
from kubeline.pipelines.compile import compile_function
from kubeline.pipelines.image import (
    DEFAULT_IMAGE,
    IMAGE_VARIABLE,
    image_setting,
    set_default_image,
)
from kubeline.store import ModelVersionRecord

OTHER = "registry.example/kubeline:mine"


@dsl.component(base_image=DEFAULT_IMAGE, install_kfp_package=False)
def ours(x: int) -> int:
    return x


@dsl.component(base_image="python:3.11", install_kfp_package=False)
def theirs(x: int) -> int:
    return x


@dsl.pipeline(name="two-images")
def two_images(x: int = 1) -> int:
    return theirs(x=ours(x=x).output).output


def _images(spec: dict[str, Any]) -> dict[str, str]:
    executors = spec["deploymentSpec"]["executors"]
    return {name: e["container"]["image"] for name, e in executors.items()}


def test_the_setting_is_the_variable_when_set_else_kubelines_image() -> None:
    assert image_setting({}) == DEFAULT_IMAGE
    assert image_setting({IMAGE_VARIABLE: ""}) == DEFAULT_IMAGE
    assert image_setting({IMAGE_VARIABLE: OTHER}) == OTHER


def test_importing_the_module_reads_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(IMAGE_VARIABLE, OTHER)
    reloaded = importlib.reload(image_module)
    assert reloaded.DEFAULT_IMAGE.startswith("ghcr.io/kubeline/kubeline:")


def test_set_default_image_moves_only_kubelines_own_executors() -> None:
    spec = compile_function(two_images, default_image=DEFAULT_IMAGE)
    assert _images(spec) == {"exec-ours": DEFAULT_IMAGE, "exec-theirs": "python:3.11"}
    assert set_default_image(spec, DEFAULT_IMAGE) == []
    assert set_default_image(spec, OTHER) == ["exec-ours"]
    assert _images(spec) == {"exec-ours": OTHER, "exec-theirs": "python:3.11"}


def test_compiling_resolves_the_variable_at_the_entry_point(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(IMAGE_VARIABLE, raising=False)
    assert _images(compile_function(two_images))["exec-ours"] == DEFAULT_IMAGE
    monkeypatch.setenv(IMAGE_VARIABLE, OTHER)
    assert _images(compile_function(two_images)) == {
        "exec-ours": OTHER,
        "exec-theirs": "python:3.11",
    }
    # A value given by the caller wins over the environment.
    given = compile_function(two_images, default_image="given:1")
    assert _images(given)["exec-ours"] == "given:1"


def test_the_kserve_manifest_takes_the_resolved_image_as_a_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    version = ModelVersionRecord(
        name="iris",
        version=1,
        created_at=datetime(2026, 11, 28, tzinfo=timezone.utc),
        uri="gs://bucket/models/iris/1",
        libraries={"kubeline": "0.1.0", "scikit-learn": "1.9.1"},
    )
    monkeypatch.setenv(IMAGE_VARIABLE, "ignored:by-the-manifest")

    def container_image(**options: Any) -> str:
        manifest = inference_service(version, **options)
        return str(manifest["spec"]["predictor"]["containers"][0]["image"])

    assert container_image() == DEFAULT_IMAGE
    assert container_image(default_image=OTHER) == OTHER
    assert container_image(default_image=OTHER, image="explicit:1") == "explicit:1"
