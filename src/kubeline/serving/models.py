"""Served models: each joblib file loaded once per process, its input signature, and the
checks every request passes before it may reach ``predict``.

Validation lives here, not in the protocols, so that V1 and V2 refuse the same inputs
with the same messages, and so that a request is checked before it joins a batch: one bad
request must never fail the others it would have been batched with.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import joblib
import numpy as np

from kubeline.errors import ConfigError
from kubeline.serving.config import ModelEntry, ServeConfig, version_key
from kubeline.serving.errors import InferenceError, shown

__all__ = [
    "OUTPUT_NAMES",
    "ModelRepository",
    "ServedModel",
    "accepts_nan",
    "load_estimator",
    "v2_datatype",
]

#: The outputs a client may ask for, by name, in both protocols.
OUTPUT_NAMES = ("predict", "predict_proba")

# numpy dtype kind -> Open Inference Protocol datatype of an output.
_KIND_DATATYPE = {"b": "BOOL", "i": "INT64", "u": "UINT64", "f": "FP64", "U": "BYTES", "S": "BYTES"}

_cache: dict[tuple[str, int, int], Any] = {}
_cache_lock = threading.Lock()


def load_estimator(path: str) -> Any:
    """Load a joblib file once per process: servers built in the same process (tests, or
    several versions that point at one file) share the estimator, which scikit-learn only
    reads when it predicts. A file replaced on disk is loaded again."""
    real = os.path.realpath(path)
    try:
        stat = os.stat(real)
    except OSError as exc:
        raise ConfigError(f"Cannot read model file {path}: {exc.strerror or exc}") from exc
    key = (real, stat.st_mtime_ns, stat.st_size)
    with _cache_lock:
        if key not in _cache:
            try:
                _cache[key] = joblib.load(real)
            except Exception as exc:
                raise ConfigError(f"Cannot load model file {path}: {exc}") from exc
        return _cache[key]


def accepts_nan(estimator: Any) -> bool:
    """Whether ``estimator`` can predict on rows holding NaN.

    scikit-learn's HistGradientBoosting models always can. A Pipeline can when an imputer
    removes NaN before any step that cannot take it. Anything else says so in its tags
    (``__sklearn_tags__`` from scikit-learn 1.6, ``_get_tags`` before); without tags, NaN
    is refused, since a model that chokes on it would answer 500 instead of 400.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.pipeline import Pipeline

    if isinstance(estimator, (HistGradientBoostingClassifier, HistGradientBoostingRegressor)):
        return True
    if isinstance(estimator, Pipeline):
        from sklearn.impute import KNNImputer, SimpleImputer

        for _, step in estimator.steps:
            if step is None or step == "passthrough":
                continue
            if isinstance(step, (SimpleImputer, KNNImputer)) or type(step).__name__ in (
                "IterativeImputer",
            ):
                return True
            if not accepts_nan(step):
                return False
        return True
    try:
        return bool(estimator.__sklearn_tags__().input_tags.allow_nan)
    except AttributeError:
        pass
    get_tags = getattr(estimator, "_get_tags", None)
    if callable(get_tags):
        try:
            return bool(get_tags().get("allow_nan", False))
        except Exception:  # noqa: BLE001 - a third-party estimator's tags may be broken
            return False
    return False


def v2_datatype(dtype: np.dtype) -> str:
    """The Open Inference Protocol datatype for a numpy array of this dtype."""
    return _KIND_DATATYPE.get(np.dtype(dtype).kind, "BYTES")


def _is_numeric_type(name: str) -> bool:
    try:
        return np.dtype(name).kind in "biuf"
    except TypeError:  # "category", "string", ...
        return False


@dataclass
class ServedModel:
    """One loaded model version and its signature.

    ``feature_names`` come from the estimator (``feature_names_in_``) or else from the
    registry entry; ``n_features`` from the estimator (``n_features_in_``) or else from the
    names; either may be unknown (empty / None), and then is not checked.
    """

    entry: ModelEntry
    estimator: Any
    feature_names: list[str] = field(default_factory=list)
    feature_types: list[str] = field(default_factory=list)
    n_features: int | None = None
    fitted_with_names: bool = False
    allow_nan: bool = False
    is_classifier: bool = False
    classes: np.ndarray | None = None
    has_proba: bool = False
    predict_datatype: str = "FP64"
    numeric_columns: list[bool] = field(default_factory=list)  # per feature, when typed

    @property
    def name(self) -> str:
        return self.entry.name

    @property
    def version(self) -> str:
        return self.entry.version

    @property
    def all_numeric(self) -> bool:
        return all(self.numeric_columns)

    @classmethod
    def load(cls, entry: ModelEntry) -> ServedModel:
        estimator = load_estimator(entry.path)
        if not hasattr(estimator, "predict"):
            raise ConfigError(
                f"Model {entry.name!r} version {entry.version}: {entry.path} holds a "
                f"{type(estimator).__name__}, which has no predict()."
            )
        fitted_names = getattr(estimator, "feature_names_in_", None)
        names = [str(n) for n in fitted_names] if fitted_names is not None else []
        if names and entry.feature_names and list(entry.feature_names) != names:
            raise ConfigError(
                f"Model {entry.name!r} version {entry.version}: the entry's feature_names "
                f"{entry.feature_names} differ from those the model was fitted with {names}."
            )
        names = names or list(entry.feature_names)
        n_features = getattr(estimator, "n_features_in_", None)
        n_features = int(n_features) if n_features is not None else (len(names) or None)
        if names and n_features is not None and len(names) != n_features:
            raise ConfigError(
                f"Model {entry.name!r} version {entry.version}: {len(names)} feature names "
                f"for a model of {n_features} features."
            )
        types = list(entry.feature_types) if len(entry.feature_types) == len(names) else []
        width = n_features or len(names)
        numeric = [_is_numeric_type(t) for t in types] if types else [True] * width
        classes = getattr(estimator, "classes_", None)
        if classes is not None and not isinstance(classes, np.ndarray):
            classes = None  # multi-output classifiers keep a list of arrays
        if classes is None and entry.classes:
            classes = np.asarray(entry.classes)
        is_classifier = classes is not None
        # getattr answers None where scikit-learn hides an unusable method (available_if),
        # e.g. SVC(probability=False) or a Pipeline whose last step has no predict_proba.
        proba = is_classifier and callable(getattr(estimator, "predict_proba", None))
        predict_datatype = v2_datatype(_clean(classes).dtype) if classes is not None else "FP64"
        return cls(
            entry=entry,
            estimator=estimator,
            feature_names=names,
            feature_types=types,
            n_features=n_features,
            fitted_with_names=fitted_names is not None,
            allow_nan=accepts_nan(estimator),
            is_classifier=is_classifier,
            classes=classes,
            has_proba=proba,
            predict_datatype=predict_datatype,
            numeric_columns=numeric,
        )

    # -- building a batch from what a request holds ----------------------------------------

    def rows_from_records(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Rows from objects keyed by feature name (V1 ``{"instances": [{...}, ...]}``)."""
        if not self.feature_names:
            raise InferenceError(
                400,
                f"Model {self.name} does not know its feature names: send each instance "
                "as a list of values in feature order.",
            )
        rows = []
        for i, record in enumerate(records):
            if not isinstance(record, Mapping):
                raise InferenceError(
                    400,
                    f"Instance {i} is a {_json_type(record)}; every instance must be an "
                    "object when the first one is.",
                )
            self._check_names(record.keys(), f"Instance {i}")
            rows.append([record[n] for n in self.feature_names])
        return _matrix(rows)

    def rows_from_columns(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        """Rows from one 1-D array per feature (V2 inputs named by feature)."""
        self._check_names(columns.keys(), "The request")
        lengths = {name: len(col) for name, col in columns.items()}
        if len(set(lengths.values())) > 1:
            sizes = ", ".join(f"{n}: {k}" for n, k in lengths.items())
            raise InferenceError(400, f"Feature inputs differ in length ({sizes}).")
        ordered = [columns[n] for n in self.feature_names]
        if all(col.dtype.kind in "biuf" for col in ordered):
            return np.column_stack([col.astype(np.float64, copy=False) for col in ordered])
        return np.column_stack([col.astype(object) for col in ordered])

    def _check_names(self, given: Iterable[str], who: str) -> None:
        given = list(given)
        missing = [n for n in self.feature_names if n not in given]
        known = set(self.feature_names)
        unknown = [n for n in given if n not in known]
        if unknown:
            raise InferenceError(
                400,
                f"{who} names unknown feature(s) {', '.join(map(repr, unknown))}; model "
                f"{self.name} takes {', '.join(map(repr, self.feature_names))}.",
            )
        if missing:
            raise InferenceError(
                400, f"{who} lacks feature(s) {', '.join(map(repr, missing))} of model {self.name}."
            )

    # -- checks -----------------------------------------------------------------------------

    def prepare(self, rows: np.ndarray) -> np.ndarray:
        """Check a batch of rows against the signature and return it ready for
        :meth:`run`: a float64 matrix, or an object matrix when some features are not
        numeric. Raises :class:`InferenceError` (400) on the first problem."""
        if rows.ndim != 2:
            raise InferenceError(
                400, f"Expected a batch of rows of shape [N, F]; got shape {list(rows.shape)}."
            )
        n_rows, width = rows.shape
        if n_rows == 0:
            raise InferenceError(400, "The request holds no rows to predict.")
        if self.n_features is not None and width != self.n_features:
            raise InferenceError(
                400,
                f"Model {self.name} expects {self.n_features} features per row, got {width}.",
            )
        if self.all_numeric:
            matrix = _as_float(rows)
            self._check_finite(matrix)
            return matrix
        matrix = rows.astype(object)
        for j, numeric in enumerate(self.numeric_columns):
            if numeric:
                column = _as_float(matrix[:, j], self.feature_names[j])
                self._check_finite(column, self.feature_names[j])
                matrix[:, j] = column
        return matrix

    def _check_finite(self, values: np.ndarray, feature: str | None = None) -> None:
        if np.isfinite(values).all():
            return
        where = f" (feature {feature!r})" if feature else ""
        if np.isinf(values).any():
            raise InferenceError(400, f"The input holds an infinite value{where}.")
        if not self.allow_nan:
            raise InferenceError(
                400,
                f"The input holds NaN or null{where}, and model {self.name} cannot take "
                "missing values.",
            )

    # -- prediction -------------------------------------------------------------------------

    def model_input(self, matrix: np.ndarray) -> Any:
        """What the estimator gets: a DataFrame with the fitted column names when it was
        fitted with names (so scikit-learn does not warn), else the plain array."""
        if not self.fitted_with_names:
            return matrix
        import pandas as pd

        if matrix.dtype != object:
            return pd.DataFrame(matrix, columns=self.feature_names, copy=False)
        data = {}
        for j, name in enumerate(self.feature_names):
            column = matrix[:, j]
            kind = self.feature_types[j] if self.feature_types else None
            data[name] = _typed_column(column, kind, self.numeric_columns[j])
        return pd.DataFrame(data)

    def run(self, matrix: np.ndarray, wants: Iterable[str] = ("predict",)) -> dict[str, np.ndarray]:
        """Predict on prepared rows; ``wants`` names the outputs (``OUTPUT_NAMES``)."""
        features = self.model_input(matrix)
        out: dict[str, np.ndarray] = {}
        for name in wants:
            if name == "predict":
                out[name] = _clean(np.asarray(self.estimator.predict(features)))
            elif name == "predict_proba":
                proba = self.estimator.predict_proba(features)
                out[name] = np.asarray(proba, dtype=np.float64)
        return out

    def check_outputs(self, wants: Sequence[str]) -> None:
        for name in wants:
            if name not in OUTPUT_NAMES:
                raise InferenceError(
                    400,
                    f"Unknown output {name!r}; model {self.name} gives "
                    f"{', '.join(self.output_names())}.",
                )
            if name == "predict_proba" and not self.has_proba:
                raise InferenceError(
                    400, f"Model {self.name} has no predict_proba; it gives only predict."
                )

    def output_names(self) -> list[str]:
        return ["predict", "predict_proba"] if self.has_proba else ["predict"]


def _json_type(value: Any) -> str:
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    return type(value).__name__


def _matrix(rows: list[list[Any]]) -> np.ndarray:
    try:
        return np.asarray(rows, dtype=np.float64)
    except (ValueError, TypeError):
        matrix = np.empty((len(rows), len(rows[0]) if rows else 0), dtype=object)
        for i, row in enumerate(rows):
            matrix[i, :] = row
        return matrix


def _as_float(values: np.ndarray, feature: str | None = None) -> np.ndarray:
    if values.dtype == np.float64:
        return values
    try:
        if values.dtype == object and any(isinstance(v, (list, dict)) for v in values.flat):
            raise TypeError("nested")
        return values.astype(np.float64)
    except (ValueError, TypeError):
        bad = next((v for v in values.flat if not _float_ok(v)), None)
        where = f" for feature {feature!r}" if feature else ""
        raise InferenceError(
            400, f"Value {_short(bad)}{where} is not a number; this model takes numbers."
        ) from None


def _float_ok(value: Any) -> bool:
    if isinstance(value, (list, dict, tuple)):
        return False
    try:
        float(value if value is not None else "nan")
    except (TypeError, ValueError):
        return False
    return True


def _short(value: Any) -> str:
    return shown(value.item() if isinstance(value, np.generic) else value)


def _typed_column(column: np.ndarray, kind: str | None, numeric: bool) -> np.ndarray:
    if not numeric:
        return column
    values = column.astype(np.float64)
    if kind and np.dtype(kind).kind in "biu" and np.isfinite(values).all():
        cast = values.astype(kind)
        if (cast == values).all():
            return cast
    return values


def _clean(values: np.ndarray) -> np.ndarray:
    """A prediction array with a plain dtype: object arrays of ints, floats or bools (as
    scikit-learn returns for labels fitted from an object column) become numeric, so that
    they reach the client as JSON numbers; anything else becomes strings."""
    if values.dtype != object:
        return values
    items = values.ravel().tolist()
    for kind in (bool, int, float):
        if all(type(v) is kind or _generic_is(v, kind) for v in items):
            return np.asarray(items, dtype=kind).reshape(values.shape)
    return np.asarray([str(v) for v in items], dtype=object).reshape(values.shape)


def _generic_is(value: Any, kind: type) -> bool:
    if not isinstance(value, np.generic):
        return False
    if kind is bool:
        return isinstance(value, np.bool_)
    if kind is int:
        return isinstance(value, np.integer)
    return isinstance(value, np.floating)


class ModelRepository:
    """Every model version of a :class:`ServeConfig`, loaded at start-up: a file that
    cannot be loaded stops the server at once rather than failing its first request."""

    def __init__(self, config: ServeConfig) -> None:
        self.models: dict[tuple[str, str], ServedModel] = {}
        self.versions: dict[str, list[str]] = {}
        for entry in config.models:
            self.models[(entry.name, entry.version)] = ServedModel.load(entry)
        for name in dict.fromkeys(e.name for e in config.models):
            self.versions[name] = [e.version for e in config.versions(name)]

    def names(self) -> list[str]:
        return list(self.versions)

    def get(self, name: str, version: str | None = None) -> ServedModel:
        """The model version asked for, or the newest version of ``name``; 404 otherwise."""
        versions = self.versions.get(name)
        if versions is None:
            known = ", ".join(self.versions) or "none"
            raise InferenceError(404, f"Model {name} is not served here (models: {known}).")
        if version is None:
            version = max(versions, key=version_key)
        model = self.models.get((name, version))
        if model is None:
            raise InferenceError(
                404,
                f"Model {name} has no version {version} (versions: {', '.join(versions)}).",
            )
        return model
