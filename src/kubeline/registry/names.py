"""What a model, an alias and a reference to a version may look like.

A model's name becomes part of ``NAME:VERSION`` references, URLs and a folder name; an
alias (``production``) follows the same rules and is never all digits, which would read
as a version number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kubeline.errors import ConfigError

__all__ = ["MODEL_NAME", "ModelReference", "check_alias", "check_model_name", "parse_reference"]

#: What a registered model (or an alias) may be called.
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}")

_NAME = r"[A-Za-z0-9][A-Za-z0-9_.\-]*"
_REFERENCE = re.compile(rf"^(?P<name>{_NAME})(?::(?P<version>\d+)|@(?P<alias>{_NAME}))?$")


@dataclass(frozen=True)
class ModelReference:
    """``NAME`` (the newest version), ``NAME:VERSION`` or ``NAME@ALIAS``, parsed."""

    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}:{self.version}"
        return f"{self.name}@{self.alias}" if self.alias else self.name


def parse_reference(text: str) -> ModelReference:
    """Read a reference; a bare name means its newest version.

    Raises:
        ConfigError: the text is not ``NAME``, ``NAME:VERSION`` or ``NAME@ALIAS``.
    """
    match = _REFERENCE.match(text.strip())
    if match is None:
        raise ConfigError(
            f"'{text}' is not a model reference. Use NAME (the newest version), NAME:VERSION "
            "(e.g. breast-cancer-classifier:2) or NAME@ALIAS (e.g. breast-cancer-classifier"
            "@production)."
        )
    version = match["version"]
    return ModelReference(match["name"], int(version) if version else None, match["alias"])


def check_model_name(name: str) -> str:
    """``name`` stripped, or ConfigError when it cannot name a model."""
    name = name.strip()
    if not MODEL_NAME.fullmatch(name):
        raise ConfigError(
            f"{name[:80]!r} cannot name a model: use up to 128 letters, digits, '-', '_' "
            "and '.', starting with a letter or digit."
        )
    return name


def check_alias(alias: str) -> str:
    """``alias`` stripped, or ConfigError when it cannot name an alias."""
    alias = alias.strip()
    if not MODEL_NAME.fullmatch(alias) or alias.isdigit():
        raise ConfigError(
            f"{alias[:80]!r} cannot be an alias: use up to 128 letters, digits, '-', '_' and "
            "'.', starting with a letter or digit and not all digits (e.g. production)."
        )
    return alias
