"""Schemathesis over every operation of the Ledger API's OpenAPI schema, against the whole stack (anvil, the
indexer in its process, the mirror on SQLite and on PostgreSQL), as the brand admin, a distributor's purchaser,
the auditor and someone not signed in. Each operation gets data that fits its schema and data that does not,
and every answer must be no server error, have a documented status code, and match the declared content type
and response schema. Someone not signed in gets nothing but 401 from a protected operation, and the auditor
nothing but a refusal from a write. Writes that get through really reach the chain, and the indexer must still
be running after each operation.

Requests go through the stack's own test client (so the app's running services answer them), by way of a
`requests` adapter that schemathesis's transport can use. The examples per operation and mode are few (see
`PERSONAS`): the whole module runs in about a minute and a half per database engine, and prints what it
sent and how it was answered.
"""

from __future__ import annotations

import io
from collections import Counter, defaultdict
from dataclasses import dataclass

import pytest
import requests
import schemathesis
import urllib3
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ledger_api.app import create_app
from ledger_api.settings import Settings

BASE_URL = "http://testserver"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@dataclass(frozen=True)
class Persona:
    label: str | None  # the member signed in; None for no one
    examples: int  # per operation and generation mode

    def __str__(self) -> str:
        return self.label or "anonymous"


# The brand admin can do most, so its answers vary most; the others are mostly refused, and quickly.
PERSONAS = [Persona("brand.admin", 30), Persona("distributor.1.purchaser", 15), Persona("auditor.1", 5),
            Persona(None, 3)]


def operations() -> list[str]:
    """Every operation of the app's schema as "METHOD /path" (the app is built for it, not started)."""
    paths = create_app(Settings(environment="development")).openapi()["paths"]
    return [f"{method.upper()} {path}" for path, methods in paths.items() for method in methods]


OPERATIONS = operations()
ANSWERS: dict[str, Counter] = defaultdict(Counter)  # per database engine: (member, status) -> requests


class ThroughTestClient(requests.adapters.HTTPAdapter):
    """Sends what `requests` prepared through a Starlette test client and hands back its answer."""

    def __init__(self, client: TestClient) -> None:
        super().__init__()
        self.client = client

    def send(self, request: requests.PreparedRequest, **kwargs) -> requests.Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
        answer = self.client.request(request.method, request.url, content=request.body, headers=headers)
        raw = urllib3.HTTPResponse(body=io.BytesIO(answer.content), headers=list(answer.headers.multi_items()),
                                   status=answer.status_code, reason=answer.reason_phrase, version=11,
                                   preload_content=False, decode_content=False)
        return self.build_response(request, raw)


def unreadable(response) -> bool:
    """Refused for a body that is no JSON at all, which the app finds before it looks at who is asking."""
    if response.status_code == 400:
        return True
    problems = response.json()["detail"] if response.status_code == 422 else []
    return bool(problems) and all(p["type"] == "json_invalid" for p in problems)


def engine(stack) -> str:
    return "sqlite" if stack.settings.database_url.startswith("sqlite") else "postgresql"


@pytest.fixture(scope="module")
def schema(stack):
    loaded = schemathesis.openapi.from_dict(stack.client.app.openapi())
    assert [op.ok().label for op in loaded.get_all_operations()] == OPERATIONS
    return loaded


@pytest.fixture(scope="module")
def session(stack):
    with requests.Session() as through:
        through.mount(BASE_URL, ThroughTestClient(stack.client))
        yield through


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("persona", PERSONAS, ids=str)
def test_every_answer_is_documented_and_matches_the_schema(stack, schema, session, persona, operation):
    method, path = operation.split(" ", 1)
    api_operation = schema[path][method]
    definition = api_operation.definition.raw
    protected = bool(definition.get("security"))
    modes = [GenerationMode.POSITIVE]
    if definition.get("parameters") or definition.get("requestBody") or protected:  # anything to get wrong
        modes.append(GenerationMode.NEGATIVE)
    headers = stack.sign_in(persona.label) if persona.label else {}
    statuses: Counter = Counter()

    @settings(max_examples=persona.examples * len(modes), deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large,
                                     HealthCheck.large_base_example])
    @given(case=st.one_of([api_operation.as_strategy(generation_mode=mode) for mode in modes]))
    def answers_as_documented(case):
        response = case.call_and_validate(base_url=BASE_URL, session=session, headers=headers, checks=CHECKS)
        statuses[response.status_code] += 1
        if protected and persona.label is None:
            assert response.status_code == 401 or unreadable(response), response.text
        if protected and method == "POST" and persona.label == "auditor.1":
            assert response.status_code in (401, 403) or unreadable(response), response.text

    answers_as_documented()
    assert stack.indexer.poll() is None, f"the indexer stopped while {operation} was fuzzed: see its log"
    assert statuses, "no request was made"
    ANSWERS[engine(stack)].update({(str(persona), status): n for status, n in statuses.items()})


def test_what_was_sent_and_how_it_was_answered_is_summed_up_per_member(stack, capsys):
    answers = ANSWERS[engine(stack)]
    if not answers:
        pytest.skip("nothing was fuzzed in this session")
    with capsys.disabled():
        print(f"\nschemathesis on {engine(stack)}: {len(OPERATIONS)} operations, {sum(answers.values())} requests")
        for persona in PERSONAS:
            answered = {status: n for (who, status), n in sorted(answers.items()) if who == str(persona)}
            print(f"  {str(persona):<24} {sum(answered.values()):5d} requests  {answered}")
