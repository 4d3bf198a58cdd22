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
    └── RunFailedError            a pipeline ran and one of its tasks failed (CLI exit 1)

Messages say what failed, the offending value, and how to fix it, so that the CLI can
print them on one line without a traceback.
"""

from __future__ import annotations

__all__ = [
    "AlreadyExistsError",
    "ConfigError",
    "ConflictError",
    "DataError",
    "DataValidationError",
    "KubelineError",
    "NotFoundError",
    "PipelineLoadError",
    "RunFailedError",
    "UserError",
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
