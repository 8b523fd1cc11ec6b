"""schemathesis against the app's own ``/openapi.json``, authenticated, on both databases.

Bounded and deterministic (a few derandomized examples per operation), so it fits the normal
run: every operation must answer without a 5xx, and every answer must match its schema.
"""

import base64
import re
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from opendialer.accounts.service import NewTenant
from opendialer.config import Settings
from opendialer.inputs import MAX_DB_INT

EXAMPLES_PER_OPERATION = 4
DIALECT_PREFIXES = ("/jtel", "/mmdial")


@pytest.fixture
def api_schema(
    app: FastAPI,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> schemathesis.BaseSchema:
    monkeypatch.setattr(settings, "recordings_dir", tmp_path / "recordings")
    monkeypatch.setattr(settings, "exports_dir", tmp_path / "exports")
    return schemathesis.openapi.from_asgi("/openapi.json", app)


# A server-sent event stream never ends; deleting API keys could revoke the test's own.
EXCLUDED = re.compile(r"GET .*/live/stream$|DELETE /api/v1/api-keys/")
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


def _headers(path: str, tenant: NewTenant) -> dict[str, str]:
    if path.startswith(DIALECT_PREFIXES):
        login = f"{tenant.admin_user}@{tenant.tenant.id}:{tenant.admin_password}"
        return {"Authorization": "Basic " + base64.b64encode(login.encode()).decode()}
    return {"Authorization": f"Bearer {tenant.api_key}"}


def _exercise(operation: APIOperation[Any, Any, Any, Any], tenant: NewTenant) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def run(case: schemathesis.Case[Any]) -> None:
        case.call_and_validate(headers=_headers(case.path, tenant), checks=CHECKS)

    run()


def test_every_operation_answers_within_its_schema(
    api_schema: schemathesis.BaseSchema, tenant: NewTenant
) -> None:
    failures: list[str] = []
    operations = []
    for result in api_schema.get_all_operations():
        assert isinstance(result, Ok), result  # the OpenAPI document itself is valid
        operations.append(result.ok())
    for operation in operations:
        if EXCLUDED.match(f"{operation.method.upper()} {operation.path}"):
            continue
        try:
            _exercise(operation, tenant)
        except (Exception, BaseExceptionGroup) as exc:  # report every operation's failures
            failures.append(f"{operation.label}: {exc}")
    assert len(operations) > 100
    assert not failures, "\n\n".join(failures)


def _integer_schemas(schema: dict[str, Any]) -> list[dict[str, Any]]:
    options = schema.get("anyOf", [schema])
    return [option for option in options if option.get("type") == "integer"]


def test_every_integer_parameter_fits_a_64_bit_column(app: FastAPI) -> None:
    """A query or path integer without a maximum reaches the database as 2**64 (OverflowError
    on SQLite); request bodies are bounded by InputModel instead."""
    unbounded = []
    for path, methods in app.openapi()["paths"].items():
        for method, operation in methods.items():
            for parameter in operation.get("parameters", []):
                for schema in _integer_schemas(parameter.get("schema", {})):
                    if not schema.get("maximum", MAX_DB_INT + 1) <= MAX_DB_INT:
                        unbounded.append(f"{method.upper()} {path} {parameter['name']}")
    assert unbounded == []
