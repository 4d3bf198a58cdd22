"""Pipelines and their versions: upload, create, list, get, delete."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, File, Query, UploadFile
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from kubeline.engine.spec import parse_spec
from kubeline.errors import AlreadyExistsError, ConfigError, NotFoundError, PipelineLoadError
from kubeline.server.api.common import ApiBody, now, require, unwrap_spec
from kubeline.server.deps import get_settings, get_store
from kubeline.server.errors import ApiError
from kubeline.server.listing import ListQuery, list_query
from kubeline.server.serialize import pipeline_json, version_json
from kubeline.server.settings import ServerSettings
from kubeline.store import PipelineRecord, PipelineVersionRecord, RunStore

router = APIRouter(tags=["pipelines"])

_PIPELINE_FIELDS = {
    "name": "name",
    "display_name": "display_name",
    "created_at": "created_at",
    "pipeline_id": "pipeline_id",
    "description": "description",
    "namespace": "namespace",
}
_LIST_PIPELINE = list_query(_PIPELINE_FIELDS)
_VERSION_FIELDS = {
    "name": "name",
    "display_name": "display_name",
    "created_at": "created_at",
    "pipeline_version_id": "pipeline_version_id",
    "description": "description",
}
_LIST_VERSION = list_query(_VERSION_FIELDS)


class PipelineBody(ApiBody):
    display_name: str | None = None
    name: str | None = None
    description: str = ""
    namespace: str = ""


class UrlBody(BaseModel):
    pipeline_url: str = ""


class VersionBody(ApiBody):
    display_name: str | None = None
    name: str | None = None
    description: str = ""
    pipeline_id: str | None = None
    package_url: UrlBody | None = None
    pipeline_spec: dict[str, Any] | None = None


class CreateBoth(ApiBody):
    pipeline: PipelineBody
    pipeline_version: VersionBody


async def _read_upload(upload: UploadFile, settings: ServerSettings) -> dict[str, Any]:
    data = await upload.read(settings.max_upload_bytes + 1)
    if len(data) > settings.max_upload_bytes:
        raise ApiError(
            413, f"The file is larger than {settings.max_upload_bytes:,} bytes, the upload limit."
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"'{upload.filename}' is not a text file: upload a compiled pipeline YAML or JSON."
        ) from exc
    try:
        # Off the event loop: a large document takes seconds to parse, and the server must
        # keep answering meanwhile.
        return await run_in_threadpool(parse_spec, text, f"'{upload.filename}'")
    except PipelineLoadError as exc:
        raise ConfigError(f"Invalid pipeline: {exc}") from exc


#: A package_url file is read no further than KFP's own upload limit.
_PACKAGE_LIMIT = 32 * 1024 * 1024


def _spec_from_url(url: str) -> dict[str, Any]:
    path = Path(url.removeprefix("file://"))
    if "://" in url and not url.startswith("file://"):
        raise ConfigError(
            f"Cannot fetch '{url}': this server reads only local files "
            "(file:// or a path). Upload the file instead.",
        )
    try:
        if not path.is_file():
            raise ConfigError(f"Pipeline package '{url}' not found.")
        with path.open("rb") as file:
            data = file.read(_PACKAGE_LIMIT + 1)
        if len(data) > _PACKAGE_LIMIT:
            raise ApiError(
                413, f"Pipeline package '{url}' is larger than {_PACKAGE_LIMIT:,} bytes."
            )
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:  # a name too long, a binary, /proc...
        raise ConfigError(
            f"Cannot read pipeline package '{url}' as a YAML or JSON text file: {exc}"
        ) from exc
    try:
        return parse_spec(text, f"'{url}'")
    except PipelineLoadError as exc:
        raise ConfigError(f"Invalid pipeline: {exc}") from exc


def _add_pipeline(
    store: RunStore, name: str, display: str | None, description: str, namespace: str
) -> PipelineRecord:
    if not name:
        raise ConfigError("A pipeline needs a name (display_name).")
    record = PipelineRecord(
        pipeline_id=str(uuid.uuid4()),
        name=name,
        display_name=display or name,
        description=description,
        namespace=namespace,
        created_at=now(),
    )
    try:
        store.pipelines.add(record)
    except AlreadyExistsError as exc:
        raise AlreadyExistsError(
            f"A pipeline named '{name}' already exists: upload a new version "
            "of it (upload_version) or choose another name.",
        ) from exc
    return record


def _add_version(
    store: RunStore,
    pipeline_id: str,
    name: str | None,
    display: str | None,
    description: str,
    spec: dict[str, Any],
    url: str = "",
) -> PipelineVersionRecord:
    require(store.pipelines.get(pipeline_id), "Pipeline", pipeline_id)
    name = name or display or f"{spec['pipelineInfo']['name']}-{now():%Y%m%d%H%M%S%f}"
    record = PipelineVersionRecord(
        pipeline_version_id=str(uuid.uuid4()),
        pipeline_id=pipeline_id,
        name=name,
        display_name=display or name,
        description=description,
        spec=spec,
        package_url=url,
        created_at=now(),
    )
    try:
        store.pipeline_versions.add(record)
    except AlreadyExistsError as exc:
        raise AlreadyExistsError(
            f"Pipeline '{pipeline_id}' already has a version named '{name}'."
        ) from exc
    return record


@router.post("/pipelines/upload")
async def upload_pipeline(
    uploadfile: UploadFile = File(...),
    name: str | None = Query(None),
    display_name: str | None = Query(None),
    description: str = Query(""),
    namespace: str = Query(""),
    store: RunStore = Depends(get_store),
    settings: ServerSettings = Depends(get_settings),
) -> dict:
    spec = await _read_upload(uploadfile, settings)
    title = (
        name
        or display_name
        or Path(uploadfile.filename or "").stem
        or (spec["pipelineInfo"]["name"])
    )
    pipeline = _add_pipeline(store, title, display_name, description, namespace)
    try:
        _add_version(store, pipeline.pipeline_id, title, display_name, description, spec)
    except BaseException:
        store.pipelines.delete(pipeline.pipeline_id)  # a failed upload leaves nothing
        raise
    return pipeline_json(pipeline)


@router.post("/pipelines/upload_version")
async def upload_pipeline_version(
    uploadfile: UploadFile = File(...),
    pipelineid: str = Query(...),
    name: str | None = Query(None),
    display_name: str | None = Query(None),
    description: str = Query(""),
    store: RunStore = Depends(get_store),
    settings: ServerSettings = Depends(get_settings),
) -> dict:
    spec = await _read_upload(uploadfile, settings)
    version = _add_version(store, pipelineid, name, display_name, description, spec)
    return version_json(version)


@router.post("/pipelines")
def create_pipeline(body: PipelineBody, store: RunStore = Depends(get_store)) -> dict:
    name = body.name or body.display_name or ""
    return pipeline_json(
        _add_pipeline(store, name, body.display_name, body.description, body.namespace)
    )


@router.post("/pipelines/create")
def create_pipeline_and_version(body: CreateBoth, store: RunStore = Depends(get_store)) -> dict:
    spec = _version_spec(body.pipeline_version)
    name = body.pipeline.name or body.pipeline.display_name or ""
    pipeline = _add_pipeline(
        store, name, body.pipeline.display_name, body.pipeline.description, body.pipeline.namespace
    )
    try:
        _add_version(
            store,
            pipeline.pipeline_id,
            body.pipeline_version.name or name,
            body.pipeline_version.display_name,
            body.pipeline_version.description,
            spec,
            body.pipeline_version.package_url.pipeline_url
            if body.pipeline_version.package_url
            else "",
        )
    except BaseException:
        store.pipelines.delete(pipeline.pipeline_id)  # a failed upload leaves nothing
        raise
    return pipeline_json(pipeline)


def _version_spec(body: VersionBody) -> dict[str, Any]:
    if body.pipeline_spec:
        try:
            return parse_spec_dict(unwrap_spec(body.pipeline_spec))
        except PipelineLoadError as exc:
            raise ConfigError(f"Invalid pipeline: {exc}") from exc
    if body.package_url and body.package_url.pipeline_url:
        return _spec_from_url(body.package_url.pipeline_url)
    raise ConfigError("A pipeline version needs a pipeline_spec or a package_url.")


def parse_spec_dict(spec: dict[str, Any]) -> dict[str, Any]:
    from kubeline.engine.spec import validate_spec

    validate_spec(spec, "The pipeline_spec")
    return spec


@router.get("/pipelines")
def list_pipelines(
    namespace: str | None = None,
    query: ListQuery = Depends(_LIST_PIPELINE),
    store: RunStore = Depends(get_store),
) -> dict:
    total = store.pipelines.count(filters=query.filters)
    found = store.pipelines.list(**query.window())
    return query.body("pipelines", [pipeline_json(x) for x in found], total)


@router.get("/pipelines/names/{name}")
def get_pipeline_by_name(
    name: str, namespace: str = "", store: RunStore = Depends(get_store)
) -> dict:
    return pipeline_json(require(store.pipelines.get_by_name(name, namespace), "Pipeline", name))


@router.get("/pipelines/{pipeline_id}")
def get_pipeline(pipeline_id: str, store: RunStore = Depends(get_store)) -> dict:
    return pipeline_json(require(store.pipelines.get(pipeline_id), "Pipeline", pipeline_id))


@router.delete("/pipelines/{pipeline_id}")
def delete_pipeline(
    pipeline_id: str, cascade: bool = True, store: RunStore = Depends(get_store)
) -> dict:
    require(store.pipelines.get(pipeline_id), "Pipeline", pipeline_id)
    if not cascade and store.pipeline_versions.count(pipeline_id):
        raise ConfigError(
            f"Pipeline '{pipeline_id}' still has versions: delete them first or pass cascade=true.",
        )
    store.pipelines.delete(pipeline_id)
    return {}


@router.post("/pipelines/{pipeline_id}/versions")
def create_pipeline_version(
    pipeline_id: str, body: VersionBody, store: RunStore = Depends(get_store)
) -> dict:
    spec = _version_spec(body)
    version = _add_version(
        store,
        pipeline_id,
        body.name,
        body.display_name,
        body.description,
        spec,
        body.package_url.pipeline_url if body.package_url else "",
    )
    return version_json(version)


@router.get("/pipelines/{pipeline_id}/versions")
def list_pipeline_versions(
    pipeline_id: str,
    query: ListQuery = Depends(_LIST_VERSION),
    store: RunStore = Depends(get_store),
) -> dict:
    total = store.pipeline_versions.count(pipeline_id, filters=query.filters)
    found = store.pipeline_versions.list(pipeline_id, **query.window())
    return query.body("pipeline_versions", [version_json(x, with_spec=False) for x in found], total)


@router.get("/pipelines/{pipeline_id}/versions/{version_id}")
def get_pipeline_version(
    pipeline_id: str, version_id: str, store: RunStore = Depends(get_store)
) -> dict:
    version = require(store.pipeline_versions.get(version_id), "Pipeline version", version_id)
    if version.pipeline_id != pipeline_id:
        raise NotFoundError(f"Pipeline '{pipeline_id}' has no version '{version_id}'.")
    return version_json(version)


@router.delete("/pipelines/{pipeline_id}/versions/{version_id}")
def delete_pipeline_version(
    pipeline_id: str, version_id: str, store: RunStore = Depends(get_store)
) -> dict:
    version = require(store.pipeline_versions.get(version_id), "Pipeline version", version_id)
    if version.pipeline_id != pipeline_id:
        raise NotFoundError(f"Pipeline '{pipeline_id}' has no version '{version_id}'.")
    store.pipeline_versions.delete(version_id)
    return {}
