"""An artifact a run made, as a Python object whose data is one call away.

``artifact.load()`` gives a Dataset as a pandas DataFrame, a Model as the loaded estimator,
Metrics and ClassificationMetrics as a dict, Markdown and HTML as text; ``artifact.path``
and ``artifact.uri`` say where the content is. Loading a model runs its pickle, so it is
only ever done by the user's explicit ``load()``: no repr or view of kubeline's calls it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from kubeline.notebook.frames import read_frame
from kubeline.paths import local_path
from kubeline.store import ArtifactRecord

__all__ = ["Artifact"]

_TEXT_TYPES = ("system.Markdown", "system.HTML")
_METADATA_TYPES = (
    "system.Metrics",
    "system.ClassificationMetrics",
    "system.SlicedClassificationMetrics",
)


class Artifact(dict[str, Any]):
    """One artifact: its record (name, type, uri, metadata) and a :meth:`load` that reads
    its content as the Python object its type calls for. ``os.fspath(artifact)`` is its
    path, so ``pd.read_csv(artifact)`` works too.

    It is also the dict a run's outputs have always held for an artifact (``name``,
    ``uri``, ``type``, ``metadata``, ``artifact_id``), so code that reads
    ``outputs["model"]["uri"]`` or prints the outputs as JSON works as before.
    """

    def __init__(self, record: ArtifactRecord, *, runs_root: Path | None = None) -> None:
        super().__init__(
            name=record.name or record.output_name,
            uri=record.uri,
            type=record.schema_title,
            metadata=record.metadata,
            artifact_id=record.artifact_id,
        )
        self.record = record
        #: The runs folder the views may read reports from (None: kubeline's home's).
        self.runs_root = runs_root

    @classmethod
    def from_output(
        cls, name: str, value: dict[str, Any], run_id: str = "", runs_root: Path | None = None
    ) -> Artifact:
        """The artifact a run's ``outputs`` entry describes (``name``, ``uri``, ``type``,
        ``metadata``, ``artifact_id``)."""
        record = ArtifactRecord(
            artifact_id=str(value.get("artifact_id") or ""),
            run_id=run_id,
            producer_task_id="",
            output_name=name,
            uri=str(value.get("uri") or ""),
            schema_title=str(value.get("type") or "system.Artifact"),
            metadata=dict(value.get("metadata") or {}),
            name=str(value.get("name") or name),
        )
        return cls(record, runs_root=runs_root)

    # ------------------------------------------------------------------ what it is
    @property
    def name(self) -> str:
        return self.record.output_name or self.record.name

    @property
    def type(self) -> str:
        """Its KFP schema title, e.g. ``system.Dataset``."""
        return self.record.schema_title

    @property
    def uri(self) -> str:
        return self.record.uri

    @property
    def metadata(self) -> dict[str, Any]:
        return dict(self.record.metadata or {})

    @property
    def artifact_id(self) -> str:
        return self.record.artifact_id

    @property
    def path(self) -> Path | None:
        """Its content on this machine (a file or a folder); None for a remote URI."""
        return local_path(self.uri) if self.uri else None

    def __fspath__(self) -> str:
        path = self.path
        if path is None:
            raise ValueError(
                f"Artifact '{self.name}' is stored at {self.uri}, not on this machine."
            )
        return os.fspath(path)

    def __repr__(self) -> str:
        return f"<Artifact {self.name} {self.type} {self.uri}>"

    def _repr_html_(self) -> str:
        from kubeline.notebook.views import artifact_html

        return str(artifact_html(self.record, runs_root=self.runs_root))

    # ------------------------------------------------------------------ its data
    def load(self) -> Any:
        """Its content as Python: a Dataset as a DataFrame, a Model as the loaded estimator
        (this runs the model's pickle: load only models you trust), Metrics and
        ClassificationMetrics as a dict, Markdown and HTML as text, any other file as text
        when it is UTF-8 (else bytes), and a folder as its path.

        Raises:
            FileNotFoundError: the content is gone (its run was deleted).
            kubeline.errors.DataError: a Model folder holds no (or several) model files.
        """
        kind = self.type
        if kind in _METADATA_TYPES:
            return {k: v for k, v in self.metadata.items() if k != "display_name"}
        if kind == "system.Dataset":
            return read_frame(self.path if self.path is not None else self.uri)
        path = self._local()
        if kind == "system.Model":
            import joblib

            from kubeline.registry.probe import model_file

            return joblib.load(model_file(path))
        if path.is_dir():
            return path
        if kind in _TEXT_TYPES:
            return path.read_text(encoding="utf-8")
        data = path.read_bytes()
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data

    def _local(self) -> Path:
        path = self.path
        if path is None:
            raise ValueError(
                f"Artifact '{self.name}' is stored at {self.uri}, not on this machine; "
                "read it with the library that serves that URI (fsspec, gcsfs...)."
            )
        if not path.exists():
            raise FileNotFoundError(
                f"The content of artifact '{self.name}' is gone: {path} does not exist "
                "(was its run deleted?)."
            )
        return path
