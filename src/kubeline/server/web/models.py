"""The model registry's pages: every model, and one model's versions side by side with
their metrics, aliases and the runs that produced them."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from kubeline.registry import aliases_by_version
from kubeline.server.deps import get_settings, get_store
from kubeline.server.settings import ServerSettings
from kubeline.server.web.common import not_found, side_by_side
from kubeline.server.web.previews import render_markdown
from kubeline.server.web.templating import render
from kubeline.store import RunStore

router = APIRouter()

_CARD_BYTES = 200_000


@router.get("/models", response_class=HTMLResponse, name="web-models")
def models_page(request: Request, store: RunStore = Depends(get_store)) -> HTMLResponse:
    rows = []
    for model in store.models.list():
        versions = store.models.list_versions(model.name)
        rows.append(
            {
                "model": model,
                "versions": versions,
                "latest": versions[0] if versions else None,
                "aliases": store.models.aliases(model.name),
            }
        )
    return render(request, "models.html", {"nav": "models", "rows": rows})


def _card(path: str, home: Path) -> Markup | None:
    """The model card, rendered (raw HTML in it escaped), when it is a readable file in the
    registry's copies or a run's folder: a card's path comes from artifact metadata, which
    anyone can write, and the rest of kubeline's home (its database...) is not for show."""
    if not path:
        return None
    file = Path(path)
    try:
        real = file.resolve()
        shown = ((home / "models").resolve(), (home / "runs").resolve())
        if not file.is_file() or not any(real.is_relative_to(root) for root in shown):
            return None
        with file.open(encoding="utf-8", errors="replace") as f:
            text = f.read(_CARD_BYTES)
    except OSError:
        return None
    return Markup(render_markdown(text))  # raw HTML in the card comes out escaped


@router.get("/models/{name}", response_class=HTMLResponse, name="web-model")
def model_page(
    request: Request,
    name: str,
    version: int | None = None,
    store: RunStore = Depends(get_store),
    settings: ServerSettings = Depends(get_settings),
) -> HTMLResponse:
    versions = store.models.list_versions(name)
    if not versions:
        return not_found(request, "Model", name)
    chosen = next((v for v in versions if v.version == version), versions[0])
    numeric = [
        {k: x for k, x in v.metrics.items() if isinstance(x, (int, float))} for v in versions
    ]
    runs = {v.run_id: store.runs.get(v.run_id) for v in versions if v.run_id}
    return render(
        request,
        "model.html",
        {
            "nav": "models",
            "name": name,
            "versions": versions,
            "aliases": aliases_by_version(store, name),
            "chosen": chosen,
            "metric_rows": side_by_side(numeric),
            "runs": runs,
            "card": _card(chosen.card_uri, settings.home),
        },
    )
