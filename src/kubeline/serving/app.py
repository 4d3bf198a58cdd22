"""The model server's app factory and runner: KServe's V1 and V2 (Open Inference Protocol)
REST paths over the models of a :class:`ServeConfig`.

State (models, batchers, threads, metrics) is built in the lifespan, never in globals, so
a process may hold several servers (tests do). With several workers, uvicorn starts fresh
processes that build the app from :func:`app_from_env`.

Every request first passes :class:`kubeline.httpguard.GuardMiddleware` (Host, Origin, and
the bearer token when the config has one); its refusals are in KServe's error shape.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route

from kubeline.errors import ConfigError, KubelineError, codes_of
from kubeline.httpguard import GuardMiddleware, RequestGuard
from kubeline.serving import jsonio, protocol_v1, protocol_v2
from kubeline.serving.batching import Batcher
from kubeline.serving.config import ServeConfig
from kubeline.serving.errors import InferenceError, inference_error
from kubeline.serving.metrics import MULTIPROC_ENV, ServingMetrics
from kubeline.serving.models import ModelRepository, ServedModel
from kubeline.serving.transport import PROTOCOL
from kubeline.version import __version__

__all__ = [
    "CONFIG_ENV",
    "TOKEN_ENV",
    "app_from_env",
    "create_serving_app",
    "open_paths",
    "run_server",
]

#: The environment variable naming the JSON file of a ServeConfig, for worker processes.
CONFIG_ENV = "KUBELINE_SERVE_CONFIG"
#: The environment variable carrying the token to worker processes (never in the file).
TOKEN_ENV = "KUBELINE_SERVE_TOKEN"

log = logging.getLogger("kubeline.serving")

_JSON = "application/json"


@dataclass
class ServingState:
    """Everything a request needs, built once per app in its lifespan."""

    config: ServeConfig
    repository: ModelRepository
    metrics: ServingMetrics
    executor: ThreadPoolExecutor
    batchers: dict[tuple[str, str], Batcher] = field(default_factory=dict)

    def batcher(self, model: ServedModel) -> Batcher:
        return self.batchers[(model.name, model.version)]


def create_serving_app(config: ServeConfig) -> FastAPI:
    """A FastAPI app serving ``config.models`` on KServe's V1 and V2 paths."""
    return _create_app(config, own_process=False)


def _create_app(config: ServeConfig, *, own_process: bool) -> FastAPI:
    """The app; ``own_process``: the process exists to serve it (``run_server`` and its
    workers), so it may tune the process-wide garbage collector for it."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        repository = ModelRepository(config)  # every model loaded before the first request
        metrics = ServingMetrics()
        executor = ThreadPoolExecutor(
            max_workers=max(2, min(8, (os.cpu_count() or 1) + 1)),
            thread_name_prefix="kubeline-predict",
        )
        state = ServingState(config, repository, metrics, executor)
        for key, model in repository.models.items():
            batcher = Batcher(
                model,
                executor,
                max_batch_size=config.max_batch_size,
                max_latency_ms=config.max_latency_ms,
                on_predict=_batch_observer(metrics, model),
            )
            batcher.start()
            state.batchers[key] = batcher
        app.state.serving = state
        if own_process:
            # Everything loaded so far (scikit-learn, the models, the app) lives as long as
            # the process: out of the collector's sight, a full collection takes a fraction
            # of a millisecond instead of tens, which no request then waits for.
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            for batcher in state.batchers.values():
                await batcher.stop()
            executor.shutdown(wait=True, cancel_futures=True)

    app = FastAPI(
        title="kubeline model server",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    _install_error_handlers(app)
    _install_routes(app)
    app.add_middleware(GuardMiddleware, guard=_guard(config), refusal=_refusal)
    return app


def open_paths(config: ServeConfig) -> frozenset[str]:
    """The paths that need no token: what KServe's and Kubernetes' probes ask (server
    liveness and readiness, each model's readiness in both protocols) and nothing else:
    no predictions, no model list or metadata, no metrics."""
    paths = {"/", "/v2/health/live", "/v2/health/ready"}
    for entry in config.models:
        for base in (f"/models/{entry.name}", f"/models/{entry.name}/versions/{entry.version}"):
            paths.update((f"/v1{base}", f"/v2{base}/ready"))
    return frozenset(paths)


def _guard(config: ServeConfig) -> RequestGuard:
    return RequestGuard.for_bind(
        config.host,
        allow_hosts=config.allow_hosts,
        token=config.token,
        open_paths=open_paths(config),
    )


def _refusal(status: int, message: str) -> tuple[bytes, bytes]:
    return jsonio.dumps({"error": message}), _JSON.encode()


def app_from_env() -> FastAPI:
    """The app of the ServeConfig in the JSON file named by ``KUBELINE_SERVE_CONFIG``: the
    factory that uvicorn's worker processes call (``factory=True``). The token comes from
    ``KUBELINE_SERVE_TOKEN``, removed from this process's environment once read, so that
    nothing the models run inherits it."""
    token = os.environ.pop(TOKEN_ENV, None) or None
    path = os.environ.get(CONFIG_ENV)
    if not path:
        raise ConfigError(f"{CONFIG_ENV} is not set: it must name a serve config JSON file.")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"Cannot read the serve config {path}: {exc.strerror}") from exc
    config = ServeConfig.from_json(text)
    if token is not None:
        config = replace(config, token=token)
    return _create_app(config, own_process=True)


def run_server(
    config: ServeConfig, host: str | None = None, port: int = 8080, log_level: str = "info"
) -> None:
    """Serve ``config`` on ``host`` (default ``config.host``; the guard follows the address
    actually listened on) until interrupted.

    With ``config.workers > 1`` the config goes to a temporary JSON file named by
    ``KUBELINE_SERVE_CONFIG`` and uvicorn starts that many worker processes, each building
    its app with :func:`app_from_env` (uvicorn spawns them, so this works on Linux, macOS
    and Windows alike). Each worker loads the models once; metrics are added up across
    workers through prometheus_client's multiprocess mode, in the same temporary folder.
    The token is not in that file: it reaches the workers in ``KUBELINE_SERVE_TOKEN``, set
    in this process's environment only while uvicorn runs (the workers inherit it, and
    only this user can read a process's environment).
    """
    import uvicorn

    if host is not None and host != config.host:
        config = replace(config, host=host)

    # No access log: a line per request costs more than some predictions; errors are logged.
    # The protocol sets TCP_NODELAY, which uvicorn's multi-worker sockets lack (see it).
    options: dict[str, Any] = {
        "host": config.host,
        "port": port,
        "log_level": log_level,
        "access_log": False,
        "proxy_headers": False,  # nothing here reads the client address
        "http": PROTOCOL,
    }
    if config.workers <= 1:
        uvicorn.run(_create_app(config, own_process=True), **options)
        return
    saved = {name: os.environ.get(name) for name in (CONFIG_ENV, MULTIPROC_ENV, TOKEN_ENV)}
    with tempfile.TemporaryDirectory(
        prefix="kubeline-serve-", ignore_cleanup_errors=True
    ) as folder:
        config_file = Path(folder) / "serve-config.json"
        config_file.write_text(config.to_json(), encoding="utf-8")
        metrics_dir = Path(folder) / "metrics"
        metrics_dir.mkdir()
        os.environ[CONFIG_ENV] = str(config_file)
        os.environ[MULTIPROC_ENV] = str(metrics_dir)
        if config.token:
            os.environ[TOKEN_ENV] = config.token
        else:
            os.environ.pop(TOKEN_ENV, None)
        try:
            uvicorn.run(
                "kubeline.serving.app:app_from_env",
                factory=True,
                workers=config.workers,
                **options,
            )
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


# -- request plumbing -------------------------------------------------------------------------


def _json(body: Any, status: int = 200) -> Response:
    return Response(jsonio.dumps(body), status_code=status, media_type=_JSON)


def _error(status: int, message: str) -> Response:
    return _json({"error": message}, status)


def _refused(error: KubelineError) -> Response:
    """A kubeline error as the model server answers it: an InferenceError with its own
    status, any other with its class's status in kubeline's table (NotFoundError 404,
    ConfigError 400, ...)."""
    answer = inference_error(error)
    return _error(answer.status, answer.message)


def _state(request: Request) -> ServingState:
    state = request.app.state.serving  # set by create_app; Starlette's State is untyped
    assert isinstance(state, ServingState)
    return state


def _batch_observer(metrics: ServingMetrics, model: ServedModel) -> Callable[[int], None]:
    def observe(rows: int) -> None:
        metrics.observe_batch(model.name, model.version, rows)

    return observe


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 past ``limit`` bytes: by its Content-Length before
    reading anything, and by what actually arrives (a missing or false length)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise InferenceError(400, f"Content-Length {declared!r} is not a number.") from None
        if size > limit:
            raise InferenceError(
                413, f"The request body ({size} bytes) is larger than the limit of {limit} bytes."
            )
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise InferenceError(
                413, f"The request body is larger than the limit of {limit} bytes."
            )
        chunks.append(chunk)
    return b"".join(chunks)


async def _answer(
    request: Request,
    protocol: str,
    work: Callable[[ServingState, list[str]], Awaitable[Any]],
) -> Response:
    """Run an inference endpoint: its JSON answer or its error, counted in the metrics.
    ``work`` puts the model's name in its list argument once it knows the model exists."""
    started = time.perf_counter()
    state = _state(request)
    label: list[str] = []
    try:
        response = _json(await work(state, label))
    except KubelineError as exc:
        if not isinstance(exc, InferenceError) and codes_of(exc).http_status >= 500:
            log.exception("inference request %s failed", request.url.path)
        response = _refused(exc)
    except Exception as exc:  # the server answers 500 and goes on
        log.exception("inference request %s failed", request.url.path)
        response = _error(500, f"Internal server error: {type(exc).__name__}: {exc}")
    state.metrics.observe_request(
        label[0] if label else "", protocol, response.status_code, time.perf_counter() - started
    )
    return response


async def _infer(
    state: ServingState,
    model: ServedModel,
    request: Request,
    parse: Callable[[Any, ServedModel], Any],
    rows_of: Callable[[Any], Any],
    wants_of: Callable[[Any], tuple[str, ...]],
) -> tuple[Any, dict[str, Any]]:
    """Read, parse and check a request, then predict through the model's batcher."""
    batcher = state.batcher(model)
    with batcher.arriving():
        body = await _read_body(request, state.config.max_body_bytes)
        parsed = parse(jsonio.loads(body), model)
        rows, wants = rows_of(parsed), wants_of(parsed)
        if not batcher.batches(rows) and batcher.inlines(rows):
            # About to predict on the event loop, blocking it: first let requests whose
            # bytes have already arrived reach their handlers (two loop turns: the
            # protocol's callback, then the request's task), so that under load this one
            # queues with them instead of holding them up.
            await asyncio.sleep(0)
            await asyncio.sleep(0)
        # Decided and queued (or counted busy) with no await before leaving the block, so
        # the batcher never sees this request as neither arriving nor queued.
        if batcher.batches(rows):
            pending: Awaitable[dict[str, Any]] = batcher.submit(rows, wants)
        else:
            pending = batcher.predict_now(rows, wants)
    results = await pending
    return parsed, results


def _route(
    app: FastAPI, path: str, endpoint: Callable[[Request], Awaitable[Response]], method: str
) -> None:
    """A plain Starlette route: the endpoint takes the request and nothing else, so
    FastAPI's dependency solving (a measurable share of a 1-row request) is skipped."""
    app.router.routes.append(Route(path, endpoint, methods=[method]))


def _get(
    app: FastAPI, path: str
) -> Callable[[Callable[[Request], Awaitable[Response]]], Callable[[Request], Awaitable[Response]]]:
    def register(
        endpoint: Callable[[Request], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        _route(app, path, endpoint, "GET")
        return endpoint

    return register


def _install_routes(app: FastAPI) -> None:
    # -- V1 -------------------------------------------------------------------------------

    async def v1_predict(request: Request) -> Response:
        params = request.path_params

        async def work(state: ServingState, label: list[str]) -> Any:
            model = state.repository.get(params["name"], params.get("version"))
            label.append(model.name)
            _, results = await _infer(
                state,
                model,
                request,
                protocol_v1.parse_predict,
                lambda rows: rows,
                lambda _: ("predict",),
            )
            return protocol_v1.predict_response(results["predict"])

        return await _answer(request, "v1", work)

    for path in ("/v1/models/{name}:predict", "/v1/models/{name}/versions/{version}:predict"):
        _route(app, path, v1_predict, "POST")

    @_get(app, "/v1/models")
    async def v1_list(request: Request) -> Response:
        return _json(protocol_v1.list_models(_state(request).repository.names()))

    async def v1_model(request: Request) -> Response:
        params = request.path_params
        if params["name"].endswith(":predict"):
            return _error(400, f"GET is not allowed on {request.url.path}; use POST.")
        try:
            model = _state(request).repository.get(params["name"], params.get("version"))
        except KubelineError as exc:
            return _refused(exc)
        return _json(protocol_v1.model_ready(model))

    for path in ("/v1/models/{name}", "/v1/models/{name}/versions/{version}"):
        _route(app, path, v1_model, "GET")

    # -- V2 -------------------------------------------------------------------------------

    async def v2_infer(request: Request) -> Response:
        params = request.path_params

        async def work(state: ServingState, label: list[str]) -> Any:
            model = state.repository.get(params["name"], params.get("version"))
            label.append(model.name)
            parsed, results = await _infer(
                state,
                model,
                request,
                protocol_v2.parse_infer,
                lambda parsed: parsed.rows,
                lambda parsed: tuple(parsed.outputs),
            )
            return protocol_v2.infer_response(model, parsed, results)

        return await _answer(request, "v2", work)

    for path in ("/v2/models/{name}/infer", "/v2/models/{name}/versions/{version}/infer"):
        _route(app, path, v2_infer, "POST")

    @_get(app, "/v2")
    async def v2_server(_: Request) -> Response:
        return _json(protocol_v2.server_metadata(__version__))

    @_get(app, "/v2/health/live")
    async def v2_live(_: Request) -> Response:
        return _json({"live": True})

    @_get(app, "/v2/health/ready")
    async def v2_ready(request: Request) -> Response:
        # Every model is loaded in the lifespan, before the server takes requests.
        return _json({"ready": hasattr(request.app.state, "serving")})

    async def v2_model(request: Request) -> Response:
        params = request.path_params
        repository = _state(request).repository
        try:
            model = repository.get(params["name"], params.get("version"))
        except KubelineError as exc:
            return _refused(exc)
        return _json(protocol_v2.model_metadata(model, repository.versions[model.name]))

    for path in ("/v2/models/{name}", "/v2/models/{name}/versions/{version}"):
        _route(app, path, v2_model, "GET")

    async def v2_model_ready(request: Request) -> Response:
        params = request.path_params
        try:
            model = _state(request).repository.get(params["name"], params.get("version"))
        except KubelineError as exc:
            return _refused(exc)
        return _json(protocol_v2.model_ready(model))

    for path in ("/v2/models/{name}/ready", "/v2/models/{name}/versions/{version}/ready"):
        _route(app, path, v2_model_ready, "GET")

    # -- the rest -------------------------------------------------------------------------

    @_get(app, "/")
    async def root(_: Request) -> Response:
        return _json({"status": "alive"})

    @_get(app, "/metrics")
    async def metrics(request: Request) -> Response:
        body, content_type = _state(request).metrics.render()
        return Response(body, media_type=content_type)


def _install_error_handlers(app: FastAPI) -> None:
    """Every error in KServe's shape, ``{"error": "..."}``: unknown paths stay 404; a wrong
    method (405) and a request FastAPI itself refuses (422) become 400, as a bad request."""

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            allowed = (exc.headers or {}).get("allow", "")
            return _error(
                400,
                f"{request.method} is not allowed on {request.url.path}"
                + (f"; use {allowed}." if allowed else "."),
            )
        if exc.status_code == 404:
            return _error(404, f"No such path: {request.url.path}.")
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors()
        )
        return _error(400, f"Invalid request: {problems}")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("request %s failed", request.url.path)
        return _error(500, f"Internal server error: {type(exc).__name__}")
