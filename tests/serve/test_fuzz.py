"""schemathesis fuzzes the server's OpenAPI schema over real HTTP: no request, valid or
malformed (schemathesis' negative mode breaks types and required fields on purpose), may get
a 5xx.

The operations are driven with ``operation.as_strategy()`` under ``hypothesis.given`` rather
than ``schemathesis.pytest.from_fixture``, whose lazy loader reads a pytest attribute that
pytest 9.2 removed.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings

schemathesis = pytest.importorskip("schemathesis")
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

from rewardlab.serve import BackgroundServer, ServeConfig, create_app  # noqa: E402

OPERATIONS = [("POST", "/get_reward"), ("POST", "/v1/score"), ("GET", "/health"),
              ("GET", "/metrics")]


@pytest.fixture(scope="module")
def fuzzed_server(serve_rm) -> Iterator[BackgroundServer]:
    # small limits so generated bodies stay cheap to embed, and the 413 paths get exercised
    app = create_app(serve_rm, ServeConfig(max_batch=16, max_wait_ms=2, max_request_items=8,
                                           max_chars=2000))
    with BackgroundServer(app) as server:
        yield server


@pytest.fixture(scope="module")
def api_schema(fuzzed_server: BackgroundServer):
    return schemathesis.openapi.from_url(fuzzed_server.url + "/openapi.json")


def test_schema_lists_every_route(api_schema) -> None:
    found = {(op.ok().method.upper(), op.ok().path) for op in api_schema.get_all_operations()}
    assert found == set(OPERATIONS)


# the GET routes take no input, so there is nothing to make invalid
CASES = [(m, p, GenerationMode.POSITIVE) for m, p in OPERATIONS] + [
    (m, p, GenerationMode.NEGATIVE) for m, p in OPERATIONS if m == "POST"]


@pytest.mark.parametrize(("method", "path", "mode"), CASES)
def test_no_server_errors(api_schema, fuzzed_server, method: str, path: str,
                          mode: GenerationMode) -> None:
    operation = api_schema[path][method]
    examples = 25 if method == "POST" else 5
    statuses: list[int] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def fuzz(case) -> None:
        response = case.call_and_validate(base_url=fuzzed_server.url,
                                          checks=[not_a_server_error])
        statuses.append(response.status_code)

    fuzz()
    assert statuses and max(statuses) < 500
    if mode == GenerationMode.NEGATIVE:
        assert any(400 <= s < 500 for s in statuses)
