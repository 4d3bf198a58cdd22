"""The model registry: registered models, their numbered versions with lineage, and the
aliases that point at them; how a model is registered, found by reference (``NAME``,
``NAME:VERSION``, ``NAME@ALIAS``) and copied into the registry's own folder.

It sits between the store (where versions are kept) and its users: the engine's
registration hook, the server, the model server and the CLI. It imports only the store
and the layer-free modules (``kubeline.errors``, ``kubeline.digest``, ``kubeline.paths``),
so importing it loads no web framework, metrics client or numpy.
"""

from __future__ import annotations

from kubeline.registry.catalog import (
    ModelNotFoundError,
    ModelSummary,
    aliases_by_version,
    model_summaries,
    model_versions,
    remove_alias,
    resolve,
    set_alias,
)
from kubeline.registry.copies import check_card, default_roots, keep_copy
from kubeline.registry.names import (
    MODEL_NAME,
    ModelReference,
    check_alias,
    check_model_name,
    parse_reference,
)
from kubeline.registry.probe import INSPECT_TIMEOUT_SECONDS, inspect_model, model_file
from kubeline.registry.registration import (
    register,
    register_artifact,
    register_file,
    version_of_output,
)
from kubeline.registry.versions import (
    NOTES_KEY,
    REGISTER_KEY,
    notes,
    version_dict,
    version_from_metadata,
    wants_registration,
)

__all__ = [
    "INSPECT_TIMEOUT_SECONDS",
    "MODEL_NAME",
    "NOTES_KEY",
    "REGISTER_KEY",
    "ModelNotFoundError",
    "ModelReference",
    "ModelSummary",
    "aliases_by_version",
    "check_alias",
    "check_card",
    "check_model_name",
    "default_roots",
    "inspect_model",
    "keep_copy",
    "model_file",
    "model_summaries",
    "model_versions",
    "notes",
    "parse_reference",
    "register",
    "register_artifact",
    "register_file",
    "remove_alias",
    "resolve",
    "set_alias",
    "version_dict",
    "version_from_metadata",
    "version_of_output",
    "wants_registration",
]
