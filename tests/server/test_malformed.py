"""Malformed requests get a 4xx in KFP's error shape that names the problem, never a 500 (#11).

Each case here was a 500 (or a dropped connection) before; they run against a real server on
a free loopback port that holds a pipeline and a finished run.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from kubeline.pipelines.compile import compile_function, compile_pipeline
from tests.engine import pipelines as p
from tests.server.conftest import LiveServer, start_server

API = "/apis/v2beta1"
TOKEN = "s3cret-token"
REFRESH = '<meta http-equiv=refresh content="0;url=https://example.com">'


def kfp_error(response: httpx.Response, *words: str, status: int = 400) -> dict[str, Any]:
    """Assert ``response`` is a ``status`` error in KFP's shape whose message has ``words``."""
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert set(body) == {"error", "code", "message", "details"}, body
    assert body["error"] == body["message"] and body["details"] == []
    assert isinstance(body["code"], int) and body["code"] != 13  # not INTERNAL
    for word in words:
        assert word in body["message"], (word, body["message"])
    return body


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, dict]]:
    """A server holding pipeline ``two`` and a finished run of it."""
    home = tmp_path_factory.mktemp("malformed-home")
    spec = compile_pipeline(compile_function(p.two_step), home / "two.yaml")
    server = start_server(home)
    with server.http() as http:
        pipeline = _upload(http, spec, "two").json()
        run = http.post(
            f"{API}/runs",
            json={
                "display_name": "seeded",
                "pipeline_version_reference": {"pipeline_id": pipeline["pipeline_id"]},
            },
        ).json()
        deadline = time.monotonic() + 300
        while http.get(f"{API}/runs/{run['run_id']}").json()["state"] not in ("SUCCEEDED",):
            assert time.monotonic() < deadline, "the seeded run did not succeed"
            time.sleep(0.2)
    yield server, {"pipeline": pipeline, "run": run, "spec": spec}
    server.stop()


@pytest.fixture
def http(seeded: tuple[LiveServer, dict]) -> Iterator[httpx.Client]:
    with seeded[0].http() as client:
        yield client


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_server(tmp_path_factory.mktemp("token-home"), token=TOKEN)
    yield server
    server.stop()


def _upload(http: httpx.Client, path: Path, name: str) -> httpx.Response:
    with path.open("rb") as f:
        return http.post(
            f"{API}/pipelines/upload",
            params={"name": name},
            files={"uploadfile": (path.name, f, "application/x-yaml")},
        )


def _token(document: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode()


def _filter(*predicates: Any) -> str:
    return json.dumps({"predicates": list(predicates)})


def _created(**value: Any) -> dict[str, Any]:
    return {"key": "created_at", "operation": "EQUALS", **value}


LISTS = ["runs", "pipelines", "experiments", "recurringruns"]

BAD_LIST_QUERIES = {
    "sort_by-blank": ({"sort_by": "   "}, "Invalid sort_by"),
    "sort_by-direction": ({"sort_by": "created_at sideways"}, "asc or desc"),
    "filter-not-object": ({"filter": "[1]"}, "must be a JSON object"),
    "filter-not-json": ({"filter": "{"}, "not valid JSON"),
    "predicates-not-list": ({"filter": json.dumps({"predicates": 5})}, "must be a list"),
    "predicate-not-object": ({"filter": _filter(1)}, "must be an object"),
    "predicate-key-not-text": (
        {"filter": _filter({"key": [1], "operation": "EQUALS", "string_value": "x"})},
        "Cannot filter on",
    ),
    "predicate-unknown-operation": (
        {"filter": _filter(_created(operation={}, string_value="x"))},
        "Unknown filter operation",
    ),
    "predicate-no-value": ({"filter": _filter(_created())}, "has no value"),
    "int_value-abc": ({"filter": _filter(_created(int_value="abc"))}, "whole number"),
    "int_value-10^40": ({"filter": _filter(_created(int_value=10**40))}, "64 bits"),
    "long_value-10^40-text": (
        {"filter": _filter(_created(long_value="1" + "0" * 40))},
        "64 bits",
    ),
    "timestamp-bad": (
        {"filter": _filter(_created(timestamp_value="yesterday"))},
        "RFC 3339",
    ),
    "timestamp-object": ({"filter": _filter(_created(timestamp_value={"a": 1}))}, "whole"),
    "IN-not-a-list": (
        {"filter": _filter(_created(operation="IN", string_values=5))},
        "must be a list",
    ),
    "IN-one-value": (
        {"filter": _filter(_created(operation="IN", timestamp_value="2024-01-01T00:00:00Z"))},
        "takes a list",
    ),
    "IS_SUBSTRING-on-a-time": (
        {"filter": _filter(_created(operation="IS_SUBSTRING", string_value="2024"))},
        "text fields",
    ),
    "number-for-text": (
        {"filter": _filter({"key": "name", "operation": "EQUALS", "int_value": 5})},
        "string_value",
    ),
    "page_token-offset-2^63": ({"page_token": _token({"offset": 2**63})}, "out of range"),
    "page_token-offset-float": ({"page_token": _token({"offset": 1.5})}, "page_token"),
    "page_token-offset-negative": ({"page_token": _token({"offset": -5})}, "out of range"),
    "page_token-infinity": (
        {"page_token": base64.urlsafe_b64encode(b'{"offset": Infinity}').decode()},
        "page_token",
    ),
    "page_token-not-base64": ({"page_token": "!!!"}, "page_token"),
    "page_token-a-list": ({"page_token": _token([1])}, "page_token"),
}


@pytest.mark.parametrize("resource", LISTS)
@pytest.mark.parametrize("case", sorted(BAD_LIST_QUERIES))
def test_malformed_list_queries_are_400(http: httpx.Client, resource: str, case: str) -> None:
    params, words = BAD_LIST_QUERIES[case]
    kfp_error(http.get(f"{API}/{resource}", params=params), words)


def test_malformed_list_queries_on_pipeline_versions_are_400(
    http: httpx.Client, seeded: tuple[LiveServer, dict]
) -> None:
    path = f"{API}/pipelines/{seeded[1]['pipeline']['pipeline_id']}/versions"
    for params, words in BAD_LIST_QUERIES.values():
        kfp_error(http.get(path, params=params), words)


def test_well_formed_filters_still_find_rows(
    http: httpx.Client, seeded: tuple[LiveServer, dict]
) -> None:
    """Times as RFC 3339 or Unix seconds (how KFP stores them), lists for IN."""
    run = seeded[1]["run"]

    def runs(*predicates: Any) -> list[str]:
        found = http.get(f"{API}/runs", params={"filter": _filter(*predicates)}).json()
        return [r["run_id"] for r in found.get("runs", [])]

    created = run["created_at"]
    seconds = int(datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp())
    assert runs(_created(operation="LESS_THAN_EQUALS", timestamp_value=created)) == [run["run_id"]]
    assert runs(_created(operation="GREATER_THAN", timestamp_value=created)) == []
    assert runs(_created(operation="GREATER_THAN_EQUALS", int_value=str(seconds))) == [
        run["run_id"]
    ]
    assert runs(_created(operation="GREATER_THAN", long_value=seconds + 3600)) == []
    in_states = {"key": "state", "operation": "IN", "string_values": {"values": ["SUCCEEDED"]}}
    assert runs(in_states) == [run["run_id"]]
    by_number = {"key": "display_name", "operation": 9, "string_value": "seed"}  # IS_SUBSTRING
    assert runs(by_number) == [run["run_id"]]
    page = http.get(f"{API}/runs", params={"page_token": _token({"offset": 10**6})}).json()
    assert page.get("runs", []) == [] and page["total_size"] == 1


def test_whitespace_in_sort_by_is_not_a_default(http: httpx.Client) -> None:
    """An empty sort_by (kfp.Client's default) still means newest first."""
    assert http.get(f"{API}/runs", params={"sort_by": ""}).status_code == 200
    assert http.get(f"{API}/runs", params={"sort_by": "name"}).status_code == 200


@pytest.mark.parametrize("wrapped", ["x", [1], 5])
def test_a_wrapped_pipeline_spec_that_is_not_an_object_is_400(
    http: httpx.Client, seeded: tuple[LiveServer, dict], wrapped: Any
) -> None:
    pipeline_id = seeded[1]["pipeline"]["pipeline_id"]
    spec = {"pipeline_spec": wrapped}
    kfp_error(
        http.post(f"{API}/pipelines/{pipeline_id}/versions", json={"pipeline_spec": spec}),
        "pipeline_spec.pipeline_spec must be an object",
    )
    kfp_error(
        http.post(f"{API}/runs", json={"display_name": "r", "pipeline_spec": spec}),
        "pipeline_spec.pipeline_spec must be an object",
    )
    recurring = {
        "display_name": "r",
        "pipeline_spec": spec,
        "trigger": {"periodic_schedule": {"interval_second": 60}},
    }
    kfp_error(
        http.post(f"{API}/recurringruns", json=recurring),
        "pipeline_spec.pipeline_spec must be an object",
    )
    kfp_error(
        http.post(
            f"{API}/runs",
            json={"display_name": "r", "pipeline_spec": {"pipeline_spec": {}, "platform_spec": 1}},
        ),
        "platform_spec must be an object",
    )


def test_a_wrapped_pipeline_spec_makes_a_version(
    http: httpx.Client, seeded: tuple[LiveServer, dict]
) -> None:
    """kfp.Client's {"pipeline_spec": ..., "platform_spec": ...} shape, as for runs."""
    import yaml

    pipeline_id = seeded[1]["pipeline"]["pipeline_id"]
    spec = yaml.safe_load(seeded[1]["spec"].read_text())
    response = http.post(
        f"{API}/pipelines/{pipeline_id}/versions",
        json={"name": "wrapped", "pipeline_spec": {"pipeline_spec": spec, "platform_spec": {}}},
    )
    assert response.status_code == 200, response.text
    assert response.json()["pipeline_spec"]["pipelineInfo"] == spec["pipelineInfo"]


def _raw_json(http: httpx.Client, path: str, text: str) -> httpx.Response:
    """POST ``text`` as is: json.dumps would escape a lone surrogate the same way."""
    return http.post(path, content=text.encode(), headers={"Content-Type": "application/json"})


@pytest.mark.parametrize(
    ("path", "body", "where"),
    [
        ("/experiments", '{"display_name": "a\\ud800"}', "body.display_name"),
        ("/pipelines", '{"display_name": "p\\udfff"}', "body.display_name"),
        ("/pipelines", '{"name": "ok", "description": "\\ud800"}', "body.description"),
        ("/runs", '{"display_name": "\\ud800", "pipeline_spec": {}}', "body.display_name"),
        (
            "/runs",
            '{"display_name": "r", "runtime_config": {"parameters": {"text": "\\udc00"}}}',
            "body.runtime_config.parameters.text",
        ),
        ("/runs", '{"display_name": "r", "\\ud800": 1}', "a field name in body"),
        (
            "/pipelines/create",
            '{"pipeline": {"display_name": "\\ud800"}, "pipeline_version": {}}',
            "body.pipeline.display_name",
        ),
        (
            "/recurringruns",
            '{"display_name": "\\ud800", "trigger": {}}',
            "body.display_name",
        ),
    ],
)
def test_lone_surrogates_are_400(http: httpx.Client, path: str, body: str, where: str) -> None:
    before = {r: http.get(f"{API}/{r}").json()["total_size"] for r in LISTS}
    kfp_error(_raw_json(http, f"{API}{path}", body), where, "surrogate")
    assert {r: http.get(f"{API}/{r}").json()["total_size"] for r in LISTS} == before


def test_a_lone_surrogate_in_a_pipeline_version_name_is_400(
    http: httpx.Client, seeded: tuple[LiveServer, dict]
) -> None:
    pipeline_id = seeded[1]["pipeline"]["pipeline_id"]
    response = _raw_json(http, f"{API}/pipelines/{pipeline_id}/versions", '{"name": "\\ud800"}')
    kfp_error(response, "body.name", "surrogate")


def test_a_lone_surrogate_in_a_model_registration_is_400(http: httpx.Client) -> None:
    response = _raw_json(http, "/kubeline/api/models:register", '{"artifact_id": "\\ud800"}')
    kfp_error(response, "body.artifact_id", "surrogate")


@pytest.mark.parametrize(
    ("name", "ascii_fallback"),
    [
        ("测试", "__.yaml"),
        ("🚀 rocket", "_ rocket.yaml"),
        ("line\r\nX-Injected: 1", "line__X-Injected: 1.yaml"),
        ('say "hi"', "say _hi_.yaml"),
    ],
    ids=["chinese", "emoji", "crlf", "quotes"],
)
def test_yaml_download_of_any_pipeline_name(
    http: httpx.Client, seeded: tuple[LiveServer, dict], name: str, ascii_fallback: str
) -> None:
    """Names never reach a header raw: RFC 5987 UTF-8 plus an ASCII fallback."""
    pipeline = _upload(http, seeded[1]["spec"], name)
    assert pipeline.status_code == 200, pipeline.text
    pipeline_id = pipeline.json()["pipeline_id"]
    versions = http.get(f"{API}/pipelines/{pipeline_id}/versions").json()["pipeline_versions"]
    response = http.get(
        f"/pipelines/{pipeline_id}/versions/{versions[0]['pipeline_version_id']}.yaml"
    )
    assert response.status_code == 200
    assert "pipelineInfo" in response.text
    assert "x-injected" not in response.headers
    disposition = response.headers["content-disposition"]
    assert disposition.isascii() and "\r" not in disposition and "\n" not in disposition
    assert f'filename="{ascii_fallback}"' in disposition
    encoded = disposition.split("filename*=UTF-8''", 1)[1]
    assert unquote(encoded) == name.replace("\r", "_").replace("\n", "_") + ".yaml"


def test_non_ascii_credentials_are_401_not_500(guarded: LiveServer) -> None:
    """hmac.compare_digest raises on non-ASCII str: the header, the cookie and the form."""
    url = f"{guarded.url}{API}/runs"
    for headers in (
        [("Authorization", "Bearer café".encode())],
        [("Authorization", b"Bearer caf\xe9")],
        [("Cookie", "kubeline_token=café".encode())],
    ):
        kfp_error(httpx.get(url, headers=headers), "token", status=401)
    page = httpx.get(f"{guarded.url}/runs", headers=[("Cookie", b"kubeline_token=caf\xe9")])
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    for token in ("café", "\U0001f680"):
        login = httpx.post(f"{guarded.url}/login", data={"token": token, "next": "/runs"})
        assert login.status_code == 401
        assert "not this server" in login.text
    good = httpx.post(f"{guarded.url}/login", data={"token": TOKEN, "next": "/runs"})
    assert good.status_code == 303


def test_the_task_panel_escapes_what_the_url_says(
    http: httpx.Client, seeded: tuple[LiveServer, dict]
) -> None:
    """The panel's 404 and the panel itself come from templates: no markup from the URL."""
    missing = http.get(f"/runs/{REFRESH.replace('https://', 'https:')}/task", params={"path": "x"})
    assert missing.status_code == 404
    assert "<meta" not in missing.text and "&lt;meta http-equiv=refresh" in missing.text
    run_id = seeded[1]["run"]["run_id"]
    panel = http.get(f"/runs/{run_id}/task", params={"path": REFRESH})
    assert panel.status_code == 200
    assert "<meta" not in panel.text and "&lt;meta http-equiv=refresh" in panel.text


@pytest.mark.parametrize(
    ("trigger", "extra", "words"),
    [
        ({"periodic_schedule": {"interval_second": 10**30}}, {}, "interval_second"),
        ({"periodic_schedule": {"interval_second": 60}}, {"max_concurrency": 10**30}, "between"),
        (
            {"periodic_schedule": {"interval_second": 60, "start_time": "2030-01-01T00:00:00"}},
            {},
            "no time zone",
        ),
        (
            {
                "periodic_schedule": {
                    "interval_second": 60,
                    "start_time": "0001-01-01T00:00:00+05:00",
                }
            },
            {},
            "out of range",
        ),
        ({"cron_schedule": {"cron": "0 0 0 31 2 *"}}, {}, "never fires"),
        (
            {"cron_schedule": {"cron": "0 * * * * *", "start_time": "9999-12-31T23:59:59Z"}},
            {},
            "never fires",
        ),
    ],
    ids=["huge-interval", "huge-concurrency", "naive-time", "year-0", "feb-31", "year-9999"],
)
def test_impossible_schedules_are_400(
    http: httpx.Client, seeded: tuple[LiveServer, dict], trigger: dict, extra: dict, words: str
) -> None:
    body = {
        "display_name": "impossible",
        "pipeline_version_reference": {"pipeline_id": seeded[1]["pipeline"]["pipeline_id"]},
        "trigger": trigger,
        **extra,
    }
    kfp_error(http.post(f"{API}/recurringruns", json=body), words)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("/" + "a" * 5000, "Cannot read"),
        ("/bin/sh", "Cannot read"),
        ("/proc/self/mem", "pipeline package"),
    ],
    ids=["name-too-long", "binary", "proc"],
)
def test_unreadable_package_urls_are_400(
    http: httpx.Client, seeded: tuple[LiveServer, dict], url: str, words: str
) -> None:
    pipeline_id = seeded[1]["pipeline"]["pipeline_id"]
    body = {"name": "from-url", "package_url": {"pipeline_url": url}}
    kfp_error(http.post(f"{API}/pipelines/{pipeline_id}/versions", json=body), words)


def test_artifact_offsets_past_the_end_or_negative(
    http: httpx.Client, seeded: tuple[LiveServer, dict]
) -> None:
    run = http.get(f"{API}/runs/{seeded[1]['run']['run_id']}").json()
    task = next(t for t in run["run_details"]["task_details"] if t["display_name"] == "read-text")
    artifact_id = task["inputs"]["data"]["artifact_ids"][0]
    content = f"/kubeline/api/artifacts/{artifact_id}/content"
    for offset in (2**62, 2**63, 10**30):
        response = http.get(content, params={"offset": offset})
        assert response.status_code == 200 and response.content == b""
    kfp_error(http.get(content, params={"limit": -1}), "limit must be 0 or more")
    kfp_error(http.get(content, params={"offset": -1}), "offset")
    assert http.get(content, params={"limit": 2**63}).content == b"hello"


def test_405_says_which_methods_the_path_takes(http: httpx.Client) -> None:
    response = http.request("PUT", f"{API}/experiments")
    body = kfp_error(response, "PUT is not allowed", status=405)
    assert body["code"] == 12  # UNIMPLEMENTED, as KFP's gateway says
    assert response.headers["allow"] == "GET, POST"
