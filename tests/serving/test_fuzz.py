"""Fuzzing the model server: schemathesis generates requests, valid and invalid, from a
hand-written OpenAPI schema of the V1 and V2 routes (``serving_openapi.yaml``) and sends
them to a real server (uvicorn on a free loopback port, with a token). No answer may be a
5xx, and every answer must be one the schema declares, in its declared shape.

The seed is fixed, so a run is repeatable (request for request with PYTHONHASHSEED set
too: schemathesis orders some things by hash); a failure prints the request as a curl
command. Run only these with ``pytest -m fuzz tests/serving``; ``-m 'not fuzz'`` skips them.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from kubeline.serving import ServeConfig
from tests.serving.helpers import LiveServer, start_server

pytestmark = pytest.mark.fuzz

SCHEMA = schemathesis.openapi.from_path(Path(__file__).with_name("serving_openapi.yaml"))
# The server's token goes in every request; generated Authorization values would only
# test the token check, which test_guard.py does directly.
SCHEMA.config.generation.update(with_security_parameters=False)
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]


@SCHEMA.hook
def flatmap_body(context: schemathesis.HookContext, body: Any) -> st.SearchStrategy:
    """Half the generated V2 requests get shapes that fit their data: the schema cannot say
    that they must, and a request whose shape is wrong stops at the first check."""
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        return st.just(body)
    fitted = {**body, "inputs": [_fit(spec) for spec in body["inputs"]]}
    return st.sampled_from([body, fitted])


def _fit(spec: Any) -> Any:
    if not isinstance(spec, dict) or not isinstance(spec.get("data"), list):
        return spec
    shape, level = [], spec["data"]
    while isinstance(level, list):
        shape.append(len(level))
        level = level[0] if level else None
    return {**spec, "shape": shape}


TOKEN = "fuzz-token-7c1e0d5a"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SEED = 1111
EXAMPLES = 30  # per operation and mode (fewer when an operation has fewer distinct inputs)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
SENT: Counter[str] = Counter()
STATUSES: Counter[int] = Counter()


@pytest.fixture(scope="module")
def fuzzed(serve_config: ServeConfig, pytestconfig: pytest.Config) -> Iterator[LiveServer]:
    """The conftest's models but the one that fails on purpose (its 500 is by design)."""
    models = [m for m in serve_config.models if m.name != "failing"]
    server = start_server(replace(serve_config, models=models, token=TOKEN))
    started = time.perf_counter()
    yield server
    server.stop()
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():  # shown without -s too
        print(
            f"\nschemathesis sent {SENT['total']} requests to the model server "
            f"({SENT['positive']} valid, {SENT['negative']} invalid) over "
            f"{len(OPERATIONS)} operations in {time.perf_counter() - started:.1f} s; answers: "
            + ", ".join(f"{code} x {n}" for code, n in sorted(STATUSES.items()))
        )


def _modes(operation: schemathesis.APIOperation) -> list[GenerationMode]:
    """Invalid data needs something to make invalid: a parameter or a body."""
    if operation.path_parameters or operation.body:
        return [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    return [GenerationMode.POSITIVE]


def _send(case: schemathesis.Case, url: str, session: requests.Session, sent: Counter) -> None:
    """Send one generated request; fail on a 5xx or an answer the schema does not allow."""
    response = case.call(base_url=url, session=session, headers=AUTH, timeout=30)
    sent[case.meta.generation.mode.value if case.meta else "positive"] += 1
    STATUSES[response.status_code] += 1
    case.validate_response(response, checks=CHECKS, headers=AUTH)


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.label)
def test_no_5xx_and_answers_match_the_schema(
    fuzzed: LiveServer, operation: schemathesis.APIOperation
) -> None:
    sent: Counter[str] = Counter()
    with requests.Session() as session:
        # Schemathesis' coverage phase, deterministic: boundary values, each field of the
        # wrong type or missing, other HTTP methods.
        for case in SCHEMA.iter_coverage_cases(
            operation,
            generation_modes=_modes(operation),
            generation_config=SCHEMA.config.generation_for(operation=operation, phase="coverage"),
        ):
            _send(case, fuzzed.url, session, sent)
        # Then random requests, valid and invalid, from a fixed seed.
        for mode in _modes(operation):

            @hypothesis.seed(SEED)
            @hypothesis.settings(
                max_examples=EXAMPLES,
                database=None,
                deadline=None,
                phases=[Phase.explicit, Phase.generate],  # no shrinking: bounded in time
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(mode))
            def fuzz(case: schemathesis.Case) -> None:
                _send(case, fuzzed.url, session, sent)

            fuzz()
    SENT.update(sent)
    SENT["total"] += sum(sent.values())
    if operation.body:
        assert sent["positive"] >= EXAMPLES and sent["negative"] >= EXAMPLES, sent
    elif operation.path_parameters:
        assert sent["positive"] >= 5 and sent["negative"] >= 5, sent
