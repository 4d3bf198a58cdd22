"""The Open Inference Protocol (KServe V2) over HTTP/JSON: tensor decoding, request
parsing and response building, as pure functions of the decoded JSON.

A model takes either one tensor of shape ``[N, F]`` (any name, e.g. ``input-0``), or one
tensor per feature, named by feature, of shape ``[N]`` or ``[N, 1]``. ``data`` may be
nested or flat (row-major). It gives the outputs ``predict`` (labels or values, shape
``[N]``) and, for classifiers that have it, ``predict_proba`` (FP64, ``[N, C]``); the
request's ``outputs`` picks among them, ``predict`` alone by default.

FP16 and FP32 values are read at float64 precision, which is what scikit-learn computes
in, so a FP32 request predicts exactly as the same numbers do in Python.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kubeline.serving.errors import InferenceError, shown
from kubeline.serving.models import ServedModel, v2_datatype

__all__ = [
    "DATATYPES",
    "InferRequest",
    "decode_tensor",
    "infer_response",
    "model_metadata",
    "model_ready",
    "parse_infer",
    "server_metadata",
]

#: Every tensor datatype of the protocol, with the numpy type its values are checked as.
DATATYPES: dict[str, Any] = {
    "BOOL": np.bool_,
    "UINT8": np.uint8,
    "UINT16": np.uint16,
    "UINT32": np.uint32,
    "UINT64": np.uint64,
    "INT8": np.int8,
    "INT16": np.int16,
    "INT32": np.int32,
    "INT64": np.int64,
    "FP16": np.float16,
    "FP32": np.float32,
    "FP64": np.float64,
    "BYTES": object,
}

_LAYOUTS = {"np": "matrix", "pd": "features"}  # MLServer's content_type names


@dataclass
class InferRequest:
    """A parsed inference request: checked rows, the outputs asked for, the id to echo."""

    rows: np.ndarray
    outputs: list[str] = field(default_factory=lambda: ["predict"])
    id: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)


def server_metadata(version: str) -> dict[str, Any]:
    return {"name": "kubeline", "version": version, "extensions": []}


def model_ready(model: ServedModel) -> dict[str, Any]:
    return {"name": model.name, "ready": True}


def model_metadata(model: ServedModel, versions: list[str]) -> dict[str, Any]:
    """Tensor metadata: one input per feature when the feature names are known (the
    most informative form; an ``[N, F]`` tensor is accepted too), else one ``[-1, F]``."""
    if model.feature_names:
        types = model.feature_types or ["float64"] * len(model.feature_names)
        inputs = [
            {"name": name, "datatype": _type_datatype(kind), "shape": [-1]}
            for name, kind in zip(model.feature_names, types, strict=True)
        ]
    else:
        width = model.n_features if model.n_features is not None else -1
        inputs = [{"name": "input-0", "datatype": "FP64", "shape": [-1, width]}]
    outputs = [{"name": "predict", "datatype": model.predict_datatype, "shape": [-1]}]
    if model.has_proba:
        n_classes = len(model.classes) if model.classes is not None else -1
        outputs.append({"name": "predict_proba", "datatype": "FP64", "shape": [-1, n_classes]})
    return {
        "name": model.name,
        "versions": list(versions),
        "platform": model.entry.framework,
        "inputs": inputs,
        "outputs": outputs,
    }


def parse_infer(payload: Any, model: ServedModel) -> InferRequest:
    """Decode and check an inference request for ``model``; raises
    :class:`InferenceError` (400) on the first problem."""
    if not isinstance(payload, Mapping):
        raise InferenceError(400, "The request body must be a JSON object with 'inputs'.")
    request_id = payload.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise InferenceError(400, f"'id' must be a string, not {shown(request_id)}.")
    if request_id is not None and not _is_unicode(request_id):
        raise InferenceError(
            400, f"'id' {shown(request_id)} is not valid Unicode (a lone surrogate); send text."
        )
    parameters = _parameters(payload.get("parameters"), "the request")
    if parameters.get("binary_data_output"):
        raise InferenceError(400, "Binary tensor data is not supported; ask for JSON outputs.")
    inputs = payload.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise InferenceError(400, "'inputs' must be a non-empty list of input tensors.")
    tensors = [decode_tensor(spec, i) for i, spec in enumerate(inputs)]
    rows = model.prepare(_rows(tensors, model, inputs))
    outputs = _outputs(payload.get("outputs"), model)
    return InferRequest(rows=rows, outputs=outputs, id=request_id, parameters=parameters)


def infer_response(
    model: ServedModel, request: InferRequest, results: Mapping[str, np.ndarray]
) -> dict[str, Any]:
    """The response object, with the outputs in the order they were asked for."""
    outputs = []
    for name in request.outputs:
        values = results[name]
        datatype = "FP64" if name == "predict_proba" else v2_datatype(values.dtype)
        if datatype == "BYTES":
            data: Any = [str(v) for v in values.ravel().tolist()]
            content_type = "str"
        else:
            data = values.ravel()  # flat, row-major: written by orjson without tolist
            content_type = "np"
        outputs.append(
            {
                "name": name,
                "datatype": datatype,
                "shape": list(values.shape),
                "parameters": {"content_type": content_type},
                "data": data,
            }
        )
    return {
        "model_name": model.name,
        "model_version": model.version,
        "id": request.id if request.id is not None else str(uuid.uuid4()),
        "parameters": {},
        "outputs": outputs,
    }


def decode_tensor(spec: Any, index: int) -> tuple[str, np.ndarray, dict[str, Any]]:
    """One request input as ``(name, array of its shape, parameters)``: numbers as
    float64 (bools and integers checked against their datatype's range), BYTES as str."""
    if not isinstance(spec, Mapping):
        raise InferenceError(400, f"inputs[{index}] must be an object, not {shown(spec)}.")
    name = spec.get("name")
    if not isinstance(name, str) or not name:
        raise InferenceError(400, f"inputs[{index}] needs a 'name' (a string).")
    where = f"Input {name!r}"
    datatype = spec.get("datatype")
    if not isinstance(datatype, str) or datatype not in DATATYPES:
        raise InferenceError(
            400,
            f"{where}: unknown datatype {shown(datatype)}; use one of {', '.join(DATATYPES)}.",
        )
    shape = spec.get("shape")
    if not isinstance(shape, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise InferenceError(
            400, f"{where}: 'shape' must be a list of non-negative integers, not {shown(shape)}."
        )
    parameters = _parameters(spec.get("parameters"), where)
    if "binary_data_size" in parameters:
        raise InferenceError(400, f"{where}: binary tensor data is not supported; send JSON.")
    if "data" not in spec:
        raise InferenceError(400, f"{where} has no 'data'.")
    data = spec["data"]
    if not isinstance(data, list):
        data = [data]  # a lone scalar, for a tensor of one element
    values = _values(data, datatype, where)
    expected = math.prod(shape)
    if values.ndim > 1 and list(values.shape) != shape:
        raise InferenceError(
            400,
            f"{where}: data is nested as {list(values.shape)} but 'shape' says {shape}.",
        )
    if values.size != expected:
        raise InferenceError(
            400,
            f"{where}: shape {shape} needs {expected} values, but data holds {values.size}.",
        )
    return name, values.reshape(shape), parameters


def _values(data: list[Any], datatype: str, where: str) -> np.ndarray:
    try:
        values = np.asarray(data)
    except (ValueError, TypeError):
        raise InferenceError(
            400, f"{where}: data is not a regular array (nested lists differ in length)."
        ) from None
    kind = values.dtype.kind
    if kind == "O" and any(isinstance(v, (list, dict)) for v in values.flat):
        raise InferenceError(400, f"{where}: data is not a regular array of {datatype} values.")
    if datatype == "BYTES":
        if kind == "U" or (kind == "O" and all(isinstance(v, str) for v in values.flat)):
            return values.astype(object)
        raise InferenceError(400, f"{where}: BYTES data holds {_first_not(data, str)}.")
    if datatype == "BOOL":
        if kind == "b" or values.size == 0:
            return values.astype(np.float64)
        raise InferenceError(400, f"{where}: BOOL data holds {_first_not(data, bool)}.")
    if datatype.startswith(("INT", "UINT")):
        return _integers(values, data, datatype, where)
    # FP16 / FP32 / FP64: numbers, and null for a missing value.
    if kind in "iuf":
        return values.astype(np.float64, copy=False)
    if kind == "O" and all(
        v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in values.flat
    ):
        return np.asarray([np.nan if v is None else v for v in values.flat]).reshape(values.shape)
    raise InferenceError(400, f"{where}: {datatype} data holds {_first_not(data, float)}.")


def _integers(values: np.ndarray, data: list[Any], datatype: str, where: str) -> np.ndarray:
    kind = values.dtype.kind
    if values.size == 0:
        return values.astype(np.float64)
    if kind == "f" and np.isfinite(values).all() and (values == np.round(values)).all():
        kind = "i"  # 3.0 is an integer written as a float
    if kind not in "iu" and not (kind == "O" and all(type(v) is int for v in values.flat)):
        raise InferenceError(400, f"{where}: {datatype} data holds {_first_not(data, int)}.")
    limits = np.iinfo(DATATYPES[datatype])
    if values.dtype.kind in "iu":
        low, high = int(values.min()), int(values.max())
    else:  # exactly, from the JSON values: a float array rounds 2**64 - 1 up to 2**64
        flat = list(_flat(data))
        low, high = int(min(flat)), int(max(flat))
    if low < limits.min or high > limits.max:
        bad = low if low < limits.min else high
        raise InferenceError(400, f"{where}: value {bad} is out of range for {datatype}.")
    return values.astype(np.float64)


def _first_not(data: list[Any], kind: type) -> str:
    """Describe the first value of the JSON data that is not of ``kind``."""
    for item in _flat(data):
        if kind is str and not isinstance(item, str):
            return f"{shown(item)}, not a string"
        if kind is bool and not isinstance(item, bool):
            return f"{shown(item)}, not a boolean"
        integral = isinstance(item, int) or (isinstance(item, float) and item.is_integer())
        if kind is int and (isinstance(item, bool) or not integral):
            return f"{shown(item)}, not an integer"
        numeric = item is None or isinstance(item, (int, float))
        if kind is float and (isinstance(item, bool) or not numeric):
            return f"{shown(item)}, not a number"
    return "a value of the wrong type"


def _flat(data: Any) -> Any:
    if isinstance(data, list):
        for item in data:
            yield from _flat(item)
    else:
        yield data


def _rows(
    tensors: list[tuple[str, np.ndarray, dict[str, Any]]],
    model: ServedModel,
    inputs: list[Any],
) -> np.ndarray:
    """The batch of rows the tensors describe: one ``[N, F]`` tensor, or one per feature."""
    layouts = {_layout(p.get("content_type"), name) for name, _, p in tensors} - {""}
    names = [name for name, _, _ in tensors]
    by_feature = (
        len(tensors) > 1
        or "features" in layouts
        or (names[0] in model.feature_names and model.n_features == 1)
    ) and "matrix" not in layouts
    if not by_feature:
        name, values, _ = tensors[0]
        if values.ndim == 2:
            return values
        if values.ndim == 1 and model.n_features == 1:
            return values.reshape(-1, 1)
        width = model.n_features if model.n_features is not None else "F"
        raise InferenceError(
            400,
            f"Input {name!r} has shape {list(values.shape)}; send shape [N, {width}] "
            "(one row per instance).",
        )
    if not model.feature_names:
        raise InferenceError(
            400,
            f"Model {model.name} does not know its feature names, so it takes one input "
            f"tensor of shape [N, F]; the request has {len(tensors)} named "
            f"{', '.join(map(repr, names))}.",
        )
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise InferenceError(400, f"Input(s) {', '.join(map(repr, twice))} given twice.")
    columns = {}
    for name, values, _ in tensors:
        if values.ndim == 2 and values.shape[1] == 1:
            values = values[:, 0]
        if values.ndim != 1:
            raise InferenceError(
                400,
                f"Feature input {name!r} must have shape [N] or [N, 1], not {list(values.shape)}.",
            )
        columns[name] = values
    return model.rows_from_columns(columns)


def _outputs(requested: Any, model: ServedModel) -> list[str]:
    if requested is None or requested == []:
        return ["predict"]
    if not isinstance(requested, list):
        raise InferenceError(400, "'outputs' must be a list of {\"name\": ...} objects.")
    names = []
    for i, spec in enumerate(requested):
        if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str):
            raise InferenceError(400, f"outputs[{i}] must be an object with a 'name'.")
        parameters = _parameters(spec.get("parameters"), f"Output {spec['name']!r}")
        if parameters.get("binary_data"):
            raise InferenceError(
                400, f"Output {spec['name']!r}: binary tensor data is not supported."
            )
        if spec["name"] not in names:
            names.append(spec["name"])
    model.check_outputs(names)
    return names


def _layout(content_type: Any, name: str) -> str:
    """``matrix``, ``features`` or ``""`` for an input's ``content_type`` parameter."""
    if content_type is None:
        return ""
    if not isinstance(content_type, str):
        raise InferenceError(
            400, f"Input {name!r}: 'content_type' must be a string, not {shown(content_type)}."
        )
    return _LAYOUTS.get(content_type, "")


def _is_unicode(text: str) -> bool:
    """False for a string holding a lone surrogate, which the JSON escape ``\\ud800``
    can produce and which no response can carry."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _parameters(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InferenceError(400, f"'parameters' of {where} must be an object.")
    return dict(value)


def _type_datatype(kind: str) -> str:
    """The tensor datatype for a numpy dtype name such as ``"float32"`` or ``"int64"``."""
    try:
        dtype = np.dtype(kind)
    except TypeError:  # "category", "string": not numpy dtypes
        return "BYTES"
    bits = dtype.itemsize * 8
    if dtype.kind == "b":
        return "BOOL"
    if dtype.kind in "iu" and bits in (8, 16, 32, 64):
        return f"{'U' if dtype.kind == 'u' else ''}INT{bits}"
    if dtype.kind == "f":
        return f"FP{bits}" if bits in (16, 32, 64) else "FP64"
    return "BYTES"
