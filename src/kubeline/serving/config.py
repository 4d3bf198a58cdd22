"""What the model server serves: one frozen, JSON round-trippable config object.

The config is JSON so that it can cross a process boundary: with several workers, uvicorn
starts fresh processes that read it from the file named by ``KUBELINE_SERVE_CONFIG``. The
token is the one field never written there (see :meth:`ServeConfig.to_dict`).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any

from kubeline.errors import ConfigError

__all__ = ["ModelEntry", "ServeConfig", "check_token", "default_workers", "version_key"]

# Names go into URL paths (/v1/models/NAME:predict, /v2/models/NAME/versions/V/infer).
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


def version_key(version: str) -> tuple[int, int, str]:
    """Sort key under which the newest version is the largest: numbers compare as numbers
    ("10" > "9"), and any numeric version is newer than a non-numeric one."""
    return (1, int(version), "") if version.isdigit() else (0, 0, version)


def default_workers() -> int:
    """The number of worker processes a server should start when nobody says: one per
    core, since prediction is CPU work and one Python process uses one core at a time."""
    return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class ModelEntry:
    """One version of one model: a joblib file holding a fitted scikit-learn estimator or
    Pipeline, with the signature the registry recorded for it (all optional: what is
    missing is read from the estimator itself)."""

    name: str
    version: str
    path: str
    framework: str = "sklearn"
    feature_names: list[str] = field(default_factory=list)
    feature_types: list[str] = field(default_factory=list)  # numpy dtype names
    classes: list[Any] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ConfigError(
                f"Model name {self.name!r} is not usable in a URL: use letters, digits, "
                "'_', '.' and '-', starting with a letter or digit."
            )
        if not isinstance(self.version, str) or not _NAME.match(self.version):
            raise ConfigError(
                f"Model {self.name!r}: version {self.version!r} must be a string such as "
                "'3' (letters, digits, '_', '.', '-')."
            )
        if not isinstance(self.path, str) or not self.path:
            raise ConfigError(f"Model {self.name!r} version {self.version}: path is empty.")
        if self.framework != "sklearn":
            raise ConfigError(
                f"Model {self.name!r}: framework {self.framework!r} is not served; "
                "only 'sklearn' is."
            )
        if self.feature_types and len(self.feature_types) != len(self.feature_names):
            raise ConfigError(
                f"Model {self.name!r}: {len(self.feature_types)} feature_types for "
                f"{len(self.feature_names)} feature_names; give one type per name."
            )
        if len(set(self.feature_names)) != len(self.feature_names):
            raise ConfigError(f"Model {self.name!r}: feature_names has duplicates.")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelEntry:
        _check_keys(cls, data, "model entry")
        return cls(**data)


@dataclass(frozen=True)
class ServeConfig:
    """The whole server: its models (several names, several versions of a name: the
    highest version is a name's default), the request-path limits, and who may call it.

    ``host`` is the address the server listens on: on loopback, requests must name it by
    a loopback name or one of ``allow_hosts`` (DNS rebinding is refused); off loopback the
    Host check is off unless ``allow_hosts`` is given. ``token``, when set, is required as
    ``Authorization: Bearer <token>`` everywhere but the health and model-ready probes.
    """

    models: list[ModelEntry]
    max_batch_size: int = 64
    max_latency_ms: float = 2.0
    max_body_bytes: int = 16 * 1024 * 1024
    workers: int = 1
    host: str = "127.0.0.1"
    allow_hosts: list[str] = field(default_factory=list)
    token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.models:
            raise ConfigError("ServeConfig needs at least one model.")
        seen: set[tuple[str, str]] = set()
        for entry in self.models:
            if not isinstance(entry, ModelEntry):
                raise ConfigError(f"ServeConfig.models holds a {type(entry).__name__}.")
            key = (entry.name, entry.version)
            if key in seen:
                raise ConfigError(f"Model {entry.name!r} version {entry.version} is listed twice.")
            seen.add(key)
        if not isinstance(self.max_batch_size, int) or self.max_batch_size < 1:
            raise ConfigError(f"max_batch_size must be >= 1, not {self.max_batch_size!r}.")
        if not isinstance(self.max_latency_ms, (int, float)) or self.max_latency_ms < 0:
            raise ConfigError(f"max_latency_ms must be >= 0, not {self.max_latency_ms!r}.")
        if not isinstance(self.max_body_bytes, int) or self.max_body_bytes < 1:
            raise ConfigError(f"max_body_bytes must be >= 1, not {self.max_body_bytes!r}.")
        if not isinstance(self.workers, int) or self.workers < 1:
            raise ConfigError(f"workers must be >= 1, not {self.workers!r}.")
        if not isinstance(self.host, str) or not self.host.strip():
            raise ConfigError(f"host must be an address such as 127.0.0.1, not {self.host!r}.")
        if not isinstance(self.allow_hosts, list) or not all(
            isinstance(h, str) and h.strip() and not any(c.isspace() for c in h.strip())
            for h in self.allow_hosts
        ):
            raise ConfigError(
                f"allow_hosts must be a list of host names, not {self.allow_hosts!r}."
            )
        if self.token is not None:
            check_token(self.token)

    def versions(self, name: str) -> list[ModelEntry]:
        """The entries of one model name, oldest first (so the last is the default)."""
        found = [e for e in self.models if e.name == name]
        return sorted(found, key=lambda e: version_key(e.version))

    def to_dict(self) -> dict[str, Any]:
        """Every field but ``token``: the dict goes to files (the workers' config) that
        must not hold a secret. A worker gets the token another way (see ``run_server``)."""
        data = asdict(self)
        data["models"] = [m.to_dict() for m in self.models]
        del data["token"]
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ServeConfig:
        _check_keys(cls, data, "serve config")
        models = data.get("models")
        if not isinstance(models, list):
            raise ConfigError("The serve config needs 'models': a list of model entries.")
        entries = []
        for item in models:
            if not isinstance(item, dict):
                raise ConfigError(f"A model entry must be an object, not {item!r}.")
            entries.append(ModelEntry.from_dict(item))
        return cls(**{**data, "models": entries})

    @classmethod
    def from_json(cls, text: str) -> ServeConfig:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"The serve config is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError("The serve config must be a JSON object.")
        return cls.from_dict(data)


def check_token(token: str) -> None:
    """Refuse a token that an HTTP header cannot carry as is: empty, or holding spaces,
    control characters or non-ASCII characters."""
    if not isinstance(token, str) or not token:
        raise ConfigError("The token is empty: give a long random string.")
    if not token.isascii() or not token.isprintable() or any(c.isspace() for c in token):
        raise ConfigError(
            "The token must be printable ASCII with no spaces (it is sent in an "
            'Authorization header); make one with: python -c "import secrets; '
            'print(secrets.token_urlsafe(32))"'
        )


def _check_keys(cls: type, data: dict[str, Any], what: str) -> None:
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"Unknown key(s) in the {what}: {', '.join(unknown)}.")
    required = {
        f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING
    }
    missing = sorted(required - set(data))
    if missing:
        raise ConfigError(f"The {what} lacks {', '.join(missing)}.")
