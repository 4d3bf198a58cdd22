"""Pipeline pages: the list (search, upload) and one pipeline (versions, graph, parameters).

Uploads go through the REST API (``/apis/v2beta1/pipelines/upload``) from the page's script,
so the browser and ``kfp.Client`` are checked by the same code and get the same errors.
"""

from __future__ import annotations

from typing import Any

import yaml
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from kubeline.engine.spec import PLATFORM_KEY
from kubeline.server.deps import get_store
from kubeline.server.web.common import Page, attachment, not_found, parse_expanded, query_string
from kubeline.server.web.graph import build_graph, render_svg
from kubeline.server.web.templating import render
from kubeline.store import PipelineRecord, RunStore

router = APIRouter()

_ALL = 10_000  # pipelines are few; search them in Python, case-insensitively


def _matches(pipeline: PipelineRecord, words: str) -> bool:
    text = f"{pipeline.name} {pipeline.display_name} {pipeline.description}".lower()
    return all(word in text for word in words.lower().split())


@router.get("/pipelines", response_class=HTMLResponse, name="web-pipelines")
def pipelines_page(
    request: Request, q: str = "", page: int = 1, store: RunStore = Depends(get_store)
) -> HTMLResponse:
    found = [p for p in store.pipelines.list(limit=_ALL) if _matches(p, q)]
    where = Page.of(page, 20, len(found))
    shown = found[where.offset : where.offset + where.size]
    rows = []
    for pipeline in shown:
        latest = store.pipeline_versions.latest(pipeline.pipeline_id)
        rows.append(
            {
                "pipeline": pipeline,
                "latest": latest,
                "versions": store.pipeline_versions.count(pipeline.pipeline_id),
            }
        )
    return render(
        request,
        "pipelines.html",
        {
            "nav": "pipelines",
            "rows": rows,
            "q": q,
            "page": where,
            "base_query": query_string(q=q),
            "any_pipeline": bool(found) or bool(q and store.pipelines.count()),
        },
    )


def parameters_of(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The pipeline's inputs as rows: name, type, default, required."""
    inputs = spec.get("root", {}).get("inputDefinitions", {})
    rows = []
    for name, definition in inputs.get("parameters", {}).items():
        rows.append(
            {
                "name": name,
                "type": definition.get("parameterType", ""),
                "default": definition.get("defaultValue"),
                "has_default": "defaultValue" in definition,
                "required": "defaultValue" not in definition
                and not definition.get("isOptional", False),
                "description": definition.get("description", ""),
            }
        )
    for name, definition in inputs.get("artifacts", {}).items():
        rows.append(
            {
                "name": name,
                "type": definition.get("artifactType", {}).get("schemaTitle", "artifact"),
                "default": None,
                "has_default": False,
                "required": not definition.get("isOptional", False),
                "description": definition.get("description", ""),
            }
        )
    return rows


@router.get("/pipelines/{pipeline_id}", response_class=HTMLResponse, name="web-pipeline")
def pipeline_page(
    request: Request,
    pipeline_id: str,
    version: str | None = None,
    expanded: str | None = None,
    store: RunStore = Depends(get_store),
) -> HTMLResponse:
    pipeline = store.pipelines.get(pipeline_id)
    if pipeline is None:
        return not_found(request, "Pipeline", pipeline_id)
    versions = store.pipeline_versions.list(pipeline_id, limit=_ALL)
    chosen = next((v for v in versions if v.pipeline_version_id == version), None)
    if version and chosen is None:
        return not_found(request, "Pipeline version", version)
    chosen = chosen or store.pipeline_versions.latest(pipeline_id)
    spec = chosen.spec if chosen else {}
    runs = store.runs.count(filters=[("pipeline_id", "EQUALS", pipeline_id)]) if chosen else 0
    return render(
        request,
        "pipeline.html",
        {
            "nav": "pipelines",
            "pipeline": pipeline,
            "versions": versions,
            "version": chosen,
            "graph": render_svg(build_graph(spec, expanded=parse_expanded(expanded)))
            if spec
            else "",
            "parameters": parameters_of(spec),
            "runs": runs,
            "description": spec.get("pipelineInfo", {}).get("description", ""),
            # Runs carry the name inside the file, which the upload may have renamed.
            "file_name": spec.get("pipelineInfo", {}).get("name", ""),
        },
    )


@router.get("/pipelines/{pipeline_id}/versions/{version_id}.yaml", name="web-pipeline-yaml")
def pipeline_yaml(
    request: Request, pipeline_id: str, version_id: str, store: RunStore = Depends(get_store)
) -> Response:
    version = store.pipeline_versions.get(version_id)
    if version is None or version.pipeline_id != pipeline_id:
        return not_found(request, "Pipeline version", version_id)
    spec = {k: v for k, v in version.spec.items() if k != PLATFORM_KEY}
    documents = [spec] + ([version.spec[PLATFORM_KEY]] if PLATFORM_KEY in version.spec else [])
    text = yaml.safe_dump_all(documents, sort_keys=False)
    return Response(
        text,
        media_type="application/yaml",
        headers={"Content-Disposition": attachment(f"{version.name or version_id}.yaml")},
    )
