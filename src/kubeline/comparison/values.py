"""Parameters and values side by side: how a value prints in a comparison, which rows
differ, and what a run was given (its arguments over its pipeline's defaults)."""

from __future__ import annotations

import json
from typing import Any

from kubeline.charts import format_number
from kubeline.store import RunRecord

__all__ = ["format_value", "parameters_of", "side_by_side"]


def format_value(value: Any) -> str:
    """A parameter or metric value, short: 4 significant digits, whole floats as ints."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return format_number(value)
    if isinstance(value, (dict, list)):
        return json.dumps(_tidy(value), sort_keys=True, default=str)
    return str(value)


def _tidy(value: Any) -> Any:
    """Whole floats as ints, all the way down (KFP stores list defaults as doubles)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return int(value)
    if isinstance(value, list):
        return [_tidy(v) for v in value]
    if isinstance(value, dict):
        return {k: _tidy(v) for k, v in value.items()}
    return value


def side_by_side(columns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per name found in any column (runs, versions...): the values shown, and
    whether they differ, for tables that compare."""
    names: dict[str, None] = {}
    for found in columns:
        names.update(dict.fromkeys(found))
    rows = []
    for name in names:
        cells = [format_value(found[name]) if name in found else "" for found in columns]
        rows.append({"name": name, "cells": cells, "differs": len(set(cells)) > 1})
    return rows


def parameters_of(run: RunRecord) -> dict[str, Any]:
    """What the run was given, with the pipeline's defaults for what it was not."""
    definitions = run.spec.get("root", {}).get("inputDefinitions", {}).get("parameters", {})
    found = {n: d["defaultValue"] for n, d in definitions.items() if "defaultValue" in d}
    found.update(run.arguments or {})
    return found
