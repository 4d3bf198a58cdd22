"""One exception tree for kubeline.

::

    KubelineError                 anything kubeline raises on purpose
    ├── UserError                 the caller can fix it (CLI exit 2, HTTP 4xx)
    │   ├── DataError             a dataset cannot be read or lacks what is asked of it
    │   ├── DataValidationError   a dataset fails a schema or quality check
    │   ├── ConfigError           a parameter, option or name is wrong
    │   ├── PipelineLoadError     a pipeline file or function cannot be loaded or compiled
    │   ├── NotFoundError         a named run, pipeline, model... does not exist
    │   ├── AlreadyExistsError    a name is taken
    │   └── ConflictError         the thing exists but is in the wrong state for this
    ├── RunFailedError            a pipeline ran and one of its tasks failed (CLI exit 1)
    └── StatusError               a protocol's refusal that names its own HTTP status

Messages say what failed, the offending value, and how to fix it, so that the CLI can
print them on one line without a traceback.

:data:`CODES` is the one table from an error class to its HTTP status and CLI exit code;
the server's handlers, the model server and the CLI all read it through :func:`codes_of`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = [
    "CODES",
    "AlreadyExistsError",
    "Codes",
    "ConfigError",
    "ConflictError",
    "DataError",
    "DataValidationError",
    "KubelineError",
    "NotFoundError",
    "PipelineLoadError",
    "RunFailedError",
    "StatusError",
    "UserError",
    "codes_of",
]


class KubelineError(Exception):
    """Base class of every error kubeline raises on purpose."""


class UserError(KubelineError):
    """An error the user can fix by changing an input."""


class DataError(UserError):
    """A dataset cannot be read, or it lacks a column that was asked for."""


class DataValidationError(UserError):
    """A dataset fails a schema or quality check."""


class ConfigError(UserError):
    """A parameter, option or name is wrong."""


class PipelineLoadError(UserError):
    """A pipeline file or function cannot be loaded or compiled."""


class RunFailedError(KubelineError):
    """A pipeline run ended in a state other than SUCCEEDED."""


class NotFoundError(UserError):
    """A named run, pipeline, experiment, model or version does not exist."""


class AlreadyExistsError(UserError):
    """A name is already taken (a pipeline, an experiment, a model version's alias...)."""


class ConflictError(UserError):
    """The thing exists but its state forbids the request (delete a running run...)."""


class StatusError(KubelineError):
    """A refusal that names its own HTTP status: the KFP API's 413 for an upload too large,
    the model server's 503 while it shuts down. The status picks the exit code too."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Codes:
    """How an error is answered: its HTTP status and its CLI exit code."""

    http_status: int
    exit_code: int


_USER = Codes(400, 2)
_FAILED = Codes(500, 1)

#: Every error class, with what the server answers and the CLI exits with. A subclass
#: defined elsewhere (e.g. the engine's UnsafePathError) takes its nearest ancestor's row.
CODES: Mapping[type[KubelineError], Codes] = MappingProxyType(
    {
        KubelineError: _FAILED,
        UserError: _USER,
        DataError: _USER,
        DataValidationError: _USER,
        ConfigError: _USER,
        PipelineLoadError: _USER,
        NotFoundError: Codes(404, 2),
        AlreadyExistsError: Codes(409, 2),
        # A state that forbids the request (terminate a finished run) is KFP's
        # FAILED_PRECONDITION, which its API server answers with 400.
        ConflictError: _USER,
        RunFailedError: _FAILED,
        StatusError: _FAILED,  # only when its status is not an HTTP error status
    }
)


def codes_of(error: BaseException) -> Codes:
    """The status and exit code ``error`` is answered with: its class's row in
    :data:`CODES` (or its nearest ancestor's); a :class:`StatusError`'s own status; 500 and
    exit 1 for anything kubeline did not raise on purpose."""
    if isinstance(error, StatusError) and 400 <= error.status < 600:
        return Codes(error.status, 2 if error.status < 500 else 1)
    for cls in type(error).__mro__:
        if issubclass(cls, KubelineError) and cls in CODES:
            return CODES[cls]
    return _FAILED
