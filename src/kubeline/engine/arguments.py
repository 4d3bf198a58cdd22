"""Check and convert run arguments against a pipeline's input definitions, before anything
runs: unknown names, missing required inputs and values of the wrong type are refused with a
message that names the parameter, the type KFP expects and the value given."""

from __future__ import annotations

import json
from typing import Any

from kubeline.engine.spec import InputsView
from kubeline.errors import ConfigError

__all__ = [
    "TYPE_WORDS",
    "CheckedArguments",
    "convert_argument",
    "parse_assignments",
    "resolve_arguments",
]

TYPE_WORDS = {
    "STRING": "a string",
    "NUMBER_INTEGER": "an integer",
    "NUMBER_DOUBLE": "a number",
    "BOOLEAN": "true or false",
    "LIST": 'a list (JSON, e.g. ["a", "b"], or comma-separated)',
    "STRUCT": 'a JSON object, e.g. {"key": 1}',
    "TASK_FINAL_STATUS": "a task final status",
}
_TRUE = {"true", "1", "yes", "y", "on"}
_FALSE = {"false", "0", "no", "n", "off"}


class CheckedArguments(dict[str, Any]):
    """Arguments :func:`resolve_arguments` checked and converted: the layers below the edge
    take them as they are instead of checking them again."""


def parse_assignments(pairs: list[str]) -> dict[str, str]:
    """``["a=1", "b=x=y"]`` -> ``{"a": "1", "b": "x=y"}``."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"Parameter '{pair}' is not of the form name=value.")
        out[name.strip()] = value
    return out


def _bad(name: str, kind: str, value: Any) -> ConfigError:
    return ConfigError(
        f"Parameter '{name}' expects {TYPE_WORDS.get(kind, kind)}. Got {value!r} instead."
    )


def convert_argument(name: str, kind: str, value: Any) -> Any:
    """Convert ``value`` (a CLI or form string, or a Python value) to the KFP parameter type.

    Raises:
        ConfigError: the value does not fit the type; the message names both.
    """
    text = value.strip() if isinstance(value, str) else None
    if kind == "STRING":
        if isinstance(value, str):
            return value
        raise _bad(name, kind, value)
    if kind == "NUMBER_INTEGER":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if text is None:
            raise _bad(name, kind, value)
        try:
            return int(text)
        except ValueError:
            raise _bad(name, kind, value) from None
    if kind == "NUMBER_DOUBLE":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if text is None:
            raise _bad(name, kind, value)
        try:
            return float(text)
        except ValueError:
            raise _bad(name, kind, value) from None
    if kind == "BOOLEAN":
        if isinstance(value, bool):
            return value
        if text is not None and text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
        raise _bad(name, kind, value)
    if kind == "LIST":
        if isinstance(value, (list, tuple)):
            return list(value)
        if text is None:
            raise _bad(name, kind, value)
        if text.startswith("["):
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError:
                raise _bad(name, kind, value) from None
            return parsed
        return [part.strip() for part in text.split(",") if part.strip()]
    if kind == "STRUCT":
        if isinstance(value, dict):
            return value
        try:
            parsed = json.loads(text) if text is not None else None
        except json.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, dict):
            raise _bad(name, kind, value)
        return parsed
    return value


def resolve_arguments(spec: dict[str, Any], given: dict[str, Any]) -> CheckedArguments:
    """Check ``given`` against the pipeline's own inputs (its root's) and convert each value
    to its declared type. Defaults are left to the pipeline. Arguments already checked
    (a :class:`CheckedArguments`) are returned as they are.

    Raises:
        ConfigError: an unknown name, a missing required input, or a value of the wrong type.
    """
    if isinstance(given, CheckedArguments):
        return given
    inputs = InputsView.of((spec.get("root") or {}).get("inputDefinitions"))
    params, artifacts = inputs.parameters, inputs.artifacts
    unknown = sorted(set(given) - set(params) - set(artifacts))
    if unknown:
        known = ", ".join(sorted(params)) or "none"
        raise ConfigError(
            f"Unknown parameter(s) {', '.join(repr(u) for u in unknown)}. "
            f"This pipeline takes: {known}."
        )
    for name in artifacts:
        if name in given:
            raise ConfigError(
                f"Input '{name}' is an artifact; pipelines with artifact inputs cannot be "
                "started with a value yet. Wrap the pipeline and import the artifact with "
                "dsl.importer."
            )
    resolved = CheckedArguments()
    missing = []
    for name, definition in params.items():
        if name in given:
            resolved[name] = convert_argument(name, definition.type, given[name])
        elif not definition.has_default and not definition.optional:
            missing.append(name)
    missing += [n for n, d in artifacts.items() if not d.optional]
    if missing:
        raise ConfigError(
            "Missing required parameter(s): "
            + ", ".join(missing)
            + ". Give each with -p name=value."
        )
    return resolved
