"""The committed openapi.yaml is exactly what the code generates, and it is served."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from mylivelinks.openapi import render_openapi_yaml

COMMITTED = Path(__file__).parent.parent / "openapi.yaml"


def test_committed_openapi_matches_the_generated_document():
    assert COMMITTED.read_text(encoding="utf-8") == render_openapi_yaml(), (
        "openapi.yaml is stale: run `make openapi` and commit it"
    )


def test_document_and_docs_are_served(api):
    served = api.get("/openapi.json").get_json()
    assert served == yaml.safe_load(COMMITTED.read_text(encoding="utf-8"))
    assert served["openapi"].startswith("3.1")
    docs = api.get("/docs")
    assert docs.status_code == 200 and b"swagger" in docs.data.lower()


def test_the_docs_page_loads_swagger_ui_from_this_server(api):
    page = api.get("/docs").get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sorted(assets) == [
        "/docs/assets/swagger-ui-bundle.js",
        "/docs/assets/swagger-ui-standalone-preset.js",
        "/docs/assets/swagger-ui.css",
    ]
    for asset in assets:
        served = api.get(asset)
        assert served.status_code == 200, asset
        assert len(served.data) > 1000, asset
    bundle = api.get("/docs/assets/swagger-ui-bundle.js").get_data(as_text=True)
    assert "SwaggerUIBundle" in bundle


def _operations(document: dict):
    """(where, operation, its path's shared parameters) of every operation of the document."""
    for path, operations in document["paths"].items():
        shared = operations.get("parameters", [])
        for method, operation in operations.items():
            if method != "parameters":
                yield f"{method.upper()} {path}", operation, shared


def test_every_operation_documents_its_responses_and_private_ones_their_auth():
    document = yaml.safe_load(COMMITTED.read_text(encoding="utf-8"))
    for where, operation, shared in _operations(document):
        assert operation.get("summary"), f"{where} has no summary"
        responses = operation["responses"]
        assert any(code.startswith("2") for code in responses), where
        if operation.get("security"):
            assert "401" in responses, f"{where} is private but does not document 401"
        parameters = operation.get("parameters", []) + shared
        if "requestBody" in operation or any(p["in"] == "query" for p in parameters):
            assert {"400", "422"} & set(responses), f"{where} takes input, documents no 4xx"
        if any(p["in"] == "path" for p in parameters):
            assert "404" in responses, f"{where} names a resource but does not document 404"


def _inputs(document: dict):
    """(where, schema) of every parameter and request body of the document."""
    for where, operation, shared in _operations(document):
        for parameter in operation.get("parameters", []) + shared:
            yield f"{where} {parameter['name']}", parameter.get("schema", {})
        for content in operation.get("requestBody", {}).get("content", {}).values():
            yield f"{where} body", content["schema"]


def _unbounded_numbers(document: dict, schema: dict, where: str, seen: set[str]):
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name not in seen:
            seen.add(name)
            yield from _unbounded_numbers(
                document, document["components"]["schemas"][name], name, seen
            )
        return
    if schema.get("readOnly"):
        return
    kinds = schema.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if {"integer", "number"} & set(kinds) and not {"minimum", "maximum"} <= set(schema):
        yield where
    for name, inner in schema.get("properties", {}).items():
        yield from _unbounded_numbers(document, inner, f"{where}.{name}", seen)
    if isinstance(schema.get("items"), dict):
        yield from _unbounded_numbers(document, schema["items"], f"{where}[]", seen)


def test_every_number_a_client_sends_has_the_bounds_its_column_holds():
    document = yaml.safe_load(COMMITTED.read_text(encoding="utf-8"))
    unbounded = [
        problem
        for where, schema in _inputs(document)
        for problem in _unbounded_numbers(document, schema, where, set())
    ]
    assert unbounded == []
    for where, schema in _inputs(document):
        if schema.get("type") == "integer":
            assert schema["minimum"] >= -(2**31) and schema["maximum"] <= 2**31 - 1, where


def test_no_operation_hides_its_answers_behind_a_default():
    document = yaml.safe_load(COMMITTED.read_text(encoding="utf-8"))
    for where, operation, _ in _operations(document):
        responses = operation["responses"]
        assert "default" not in responses, where
        if "requestBody" in operation:
            assert {"400", "413"} <= set(responses), f"{where}: malformed or too large"
        if operation.get("security") and {"bearerAuth": []} in operation["security"]:
            assert "WWW-Authenticate" in responses["401"].get("headers", {}), where
        if "429" in responses:
            assert "Retry-After" in responses["429"]["headers"], where


def test_optional_bodies_are_documented_as_optional():
    document = yaml.safe_load(COMMITTED.read_text(encoding="utf-8"))
    body = document["paths"]["/api/v1/rooms/{slug}/live"]["post"]["requestBody"]
    assert body["required"] is False
    body = document["paths"]["/api/v1/auth/login"]["post"]["requestBody"]
    assert body["required"] is True
