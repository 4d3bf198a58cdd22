"""The child program that opens a model file to read its signature:
``python -m kubeline.registry.model_probe MODEL_FILE RESULT_FILE``.

Loading a joblib/pickle file runs code the file names, so kubeline never loads one in the
process that asks for its signature (the REST server above all):
:func:`kubeline.registry.inspect_model` starts this program in a short-lived
interpreter, with no ``KUBELINE_*`` variable (kubeline's secrets) in its environment,
waits for it with a timeout and reads back plain JSON (never a pickle). The program
writes ``{"model": {...}}`` or ``{"error": "..."}`` to ``RESULT_FILE``.
"""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path
from typing import Any

__all__ = ["describe", "main"]

EXIT_NOT_A_MODEL = 3


def describe(model: Any) -> dict[str, Any]:
    """Framework, input signature and library versions read off a fitted estimator."""
    import sklearn

    names = getattr(model, "feature_names_in_", None)
    count = getattr(model, "n_features_in_", None)
    features = [str(n) for n in names] if names is not None else []
    if not features and count:
        features = [f"x{i}" for i in range(int(count))]
    classes = getattr(model, "classes_", None)
    module = type(model).__module__.split(".")[0]
    return {
        "framework": "sklearn" if module == "sklearn" else module,
        "features": features,
        "feature_types": ["float64"] * len(features),
        "classes": [c.item() if hasattr(c, "item") else c for c in classes]
        if classes is not None
        else [],
        "libraries": {"python": platform.python_version(), "scikit-learn": sklearn.__version__},
        "estimator": type(model).__name__,
    }


def _write(result_file: Path, payload: dict[str, Any]) -> None:
    result_file.write_text(json.dumps(payload, default=str), encoding="utf-8")


def main(argv: list[str]) -> int:
    """Load one model file and write what it is to the result file; 0 when it is a model."""
    model_path, result_file = argv[0], Path(argv[1])
    sys.stdout = sys.stderr  # what the model's own code prints never mixes into the result
    import joblib

    try:
        model = joblib.load(model_path)
    except Exception as exc:  # noqa: BLE001 - any failure to load means: not a model
        _write(result_file, {"error": f"'{model_path}' is not a model joblib can load: {exc}"})
        return EXIT_NOT_A_MODEL
    if not hasattr(model, "predict"):
        _write(
            result_file,
            {"error": f"'{model_path}' holds a {type(model).__name__}, which has no predict()."},
        )
        return EXIT_NOT_A_MODEL
    _write(result_file, {"model": describe(model)})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
