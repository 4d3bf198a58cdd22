"""KServe's V1 protocol (TensorFlow Serving's REST shape): request parsing and response
building, as pure functions of the decoded JSON.

- ``GET /v1/models`` -> ``{"models": [NAME, ...]}``
- ``GET /v1/models/NAME`` -> ``{"name": NAME, "ready": true}``
- ``POST /v1/models/NAME:predict`` with ``{"instances": [...]}`` or ``{"inputs": [...]}``
  -> ``{"predictions": [...]}``

An instance is a list of feature values, an object ``{feature: value}``, or a single value
for a one-feature model; ``inputs`` may also be columnar, ``{feature: [values...]}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from kubeline.serving.errors import InferenceError
from kubeline.serving.models import ServedModel

__all__ = ["list_models", "model_ready", "parse_predict", "predict_response"]


def list_models(names: list[str]) -> dict[str, Any]:
    return {"models": list(names)}


def model_ready(model: ServedModel) -> dict[str, Any]:
    return {"name": model.name, "ready": True}


def parse_predict(payload: Any, model: ServedModel) -> np.ndarray:
    """The rows of a predict request, checked against ``model`` (see
    :meth:`ServedModel.prepare`); raises :class:`InferenceError` (400)."""
    if not isinstance(payload, Mapping):
        raise InferenceError(
            400, "The request body must be a JSON object with 'instances' or 'inputs'."
        )
    if "instances" in payload and "inputs" in payload:
        raise InferenceError(400, "Give either 'instances' or 'inputs', not both.")
    key = "instances" if "instances" in payload else "inputs"
    if key not in payload:
        raise InferenceError(
            400, "The request needs 'instances' (a list of rows) or 'inputs' to predict on."
        )
    data = payload[key]
    if key == "inputs" and isinstance(data, Mapping):
        return model.prepare(_columns(data, model))
    if not isinstance(data, list):
        raise InferenceError(400, f"'{key}' must be a list of instances, not {_kind(data)}.")
    if not data:
        raise InferenceError(400, f"'{key}' is empty: there is nothing to predict.")
    first = data[0]
    if isinstance(first, Mapping):
        return model.prepare(model.rows_from_records(data))
    if isinstance(first, list):
        return model.prepare(_rows(data, key))
    # Scalars: one value per instance, for a model of one feature.
    if any(isinstance(item, (list, Mapping)) for item in data):
        raise InferenceError(400, f"'{key}' mixes single values with lists or objects.")
    return model.prepare(_rows([[item] for item in data], key))


def predict_response(predictions: np.ndarray) -> dict[str, Any]:
    """``{"predictions": [...]}``: labels keep their JSON type (numbers or strings)."""
    return {"predictions": predictions.tolist()}


def _rows(data: list[Any], key: str) -> np.ndarray:
    try:
        return np.asarray(data, dtype=np.float64)  # the common case: rows of numbers
    except (ValueError, TypeError):
        pass
    if any(not isinstance(row, list) for row in data):
        raise InferenceError(400, f"'{key}' mixes lists with single values or objects.")
    widths = {len(row) for row in data}
    if len(widths) > 1:
        raise InferenceError(
            400, f"The instances differ in length ({', '.join(map(str, sorted(widths)))})."
        )
    matrix = np.empty((len(data), widths.pop()), dtype=object)
    for i, row in enumerate(data):
        matrix[i, :] = row
    return matrix


def _columns(data: Mapping[str, Any], model: ServedModel) -> np.ndarray:
    if not model.feature_names:
        raise InferenceError(
            400,
            f"Model {model.name} does not know its feature names, so 'inputs' cannot be "
            "columns by feature: send a list of rows in feature order.",
        )
    columns: dict[str, np.ndarray] = {}
    for name, values in data.items():
        if not isinstance(values, list) or any(isinstance(v, (list, Mapping)) for v in values):
            raise InferenceError(
                400, f"Input {name!r} must be a list of single values (one per instance)."
            )
        try:
            columns[name] = np.asarray(values, dtype=np.float64)
        except (ValueError, TypeError):
            column = np.empty(len(values), dtype=object)
            column[:] = values
            columns[name] = column
    return model.rows_from_columns(columns)


def _kind(value: Any) -> str:
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    return f"a {type(value).__name__}"
