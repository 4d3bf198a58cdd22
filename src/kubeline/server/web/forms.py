"""The start-a-run form, built from the pipeline's own input definitions.

Each parameter becomes a field of the right kind (a number box, a true/false choice, a JSON
text area for lists and dicts) showing its type and default; a submitted form is converted
with the engine's own rules, so the page and ``kubeline run -p`` accept the same values.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubeline.engine.arguments import TYPE_WORDS, convert_argument
from kubeline.errors import ConfigError

__all__ = ["FIELD_PREFIX", "Field", "form_fields", "parse_form"]

#: Form names of parameters carry this prefix, so they never clash with the form's own.
FIELD_PREFIX = "param."

_TYPE_LABELS = {
    "STRING": "string",
    "NUMBER_INTEGER": "integer",
    "NUMBER_DOUBLE": "number",
    "BOOLEAN": "boolean",
    "LIST": "list (JSON)",
    "STRUCT": "dict (JSON)",
}


@dataclass(frozen=True)
class Field:
    """One parameter's field, with what the reader typed (or its default) and any error."""

    name: str
    kind: str  # KFP's parameterType
    type_label: str
    required: bool
    has_default: bool
    default_text: str
    description: str
    value: str
    error: str = ""

    @property
    def form_name(self) -> str:
        return FIELD_PREFIX + self.name

    @property
    def widget(self) -> str:
        """``select`` for booleans, ``textarea`` for JSON, ``number`` or ``text``."""
        if self.kind == "BOOLEAN":
            return "select"
        if self.kind in ("LIST", "STRUCT"):
            return "textarea"
        if self.kind in ("NUMBER_INTEGER", "NUMBER_DOUBLE"):
            return "number"
        return "text"

    @property
    def step(self) -> str:
        return "1" if self.kind == "NUMBER_INTEGER" else "any"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value, indent=None)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def _definitions(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    parameters: dict[str, dict[str, Any]] = (
        spec.get("root", {}).get("inputDefinitions", {}).get("parameters", {})
    )
    return parameters


def form_fields(
    spec: dict[str, Any],
    submitted: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    initial: Mapping[str, Any] | None = None,
) -> list[Field]:
    """The fields for ``spec``'s parameters, in the pipeline's order.

    ``submitted`` (form values by form name) wins over ``initial`` (values by parameter name,
    e.g. another run's arguments to run again), which wins over the defaults.
    """
    fields = []
    for name, definition in _definitions(spec).items():
        kind = definition.get("parameterType", "STRING")
        has_default = "defaultValue" in definition
        default_text = _text(definition.get("defaultValue")) if has_default else ""
        if submitted is not None and FIELD_PREFIX + name in submitted:
            value = submitted[FIELD_PREFIX + name]
        elif initial is not None and name in initial:
            value = _text(initial[name])
        else:
            value = default_text
        fields.append(
            Field(
                name=name,
                kind=kind,
                type_label=_TYPE_LABELS.get(kind, kind.lower()),
                required=not has_default and not definition.get("isOptional", False),
                has_default=has_default,
                default_text=default_text,
                description=definition.get("description", ""),
                value=value,
                error=(errors or {}).get(name, ""),
            )
        )
    return fields


def parse_form(
    spec: dict[str, Any], form: Mapping[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Convert a submitted form to run arguments; errors by parameter name.

    An empty field leaves the parameter to its default (or out, when optional); an empty
    required field is an error. Values equal to the default are still passed, so the run
    records exactly what the reader saw.
    """
    arguments: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, definition in _definitions(spec).items():
        kind = definition.get("parameterType", "STRING")
        text = form.get(FIELD_PREFIX + name, "")
        blank = text.strip() == "" and kind != "STRING"
        if text == "" or blank:
            if "defaultValue" not in definition and not definition.get("isOptional", False):
                errors[name] = f"Required: give {TYPE_WORDS.get(kind, kind)}."
            continue
        opening = {"LIST": "[", "STRUCT": "{"}.get(kind)
        if opening and not text.strip().startswith(opening):  # the form asks for JSON
            errors[name] = f"Expects {TYPE_WORDS[kind]}."
            continue
        try:
            arguments[name] = convert_argument(name, kind, text)
        except ConfigError as exc:
            errors[name] = str(exc)
            continue
    return arguments, errors
