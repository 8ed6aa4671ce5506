"""/openapi.json: the API described in OpenAPI 3.1, whose response schemas are the commands' JSON Schemas
(upid/data/schemas/, docs/schemas/), embedded with their own $id so their references resolve in place."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from upid.server.views import ENDPOINTS, REPORT_PARAMS

PARAMETER_DOC = {
    "cluster": "the stored cluster (the only one when there is one)",
    "namespace": "namespaces, repeated or comma-separated (default: all)",
    "selector": "workload labels, kubectl's equality-based syntax (app=web,tier!=db)",
    "history": "how far back from the newest sample (14d; forecast 21d)",
    "window": "how far back from the newest sample (cost: 14d)",
    "until": "the window's end (RFC 3339 or UNIX seconds) instead of the newest sample",
    "resolution": "raw, hour or auto",
    "strategy": "upid, krr-simple or vpa",
}


def schema(name: str) -> dict[str, Any]:
    text = (resources.files("upid.data") / "schemas" / name).read_text()
    doc: dict[str, Any] = json.loads(text)
    return doc


def _parameters(names: tuple[str, ...]) -> list[dict[str, Any]]:
    return [
        {
            "name": n,
            "in": "query",
            "required": False,
            "description": PARAMETER_DOC.get(n, f"as the command's --{n.replace('_', '-')}"),
            "schema": {"type": "string"},
        }
        for n in names
    ]


def _error(description: str) -> dict[str, Any]:
    body = {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}
    return {"description": description, "content": {"application/json": {"schema": body}}}


ERRORS = {
    "400": _error("a parameter is unknown or malformed"),
    "401": _error("no bearer token, or an unknown one"),
    "403": _error("the caller may not read this"),
    "404": _error("no such cluster, or no samples in the window"),
    "503": _error("the store is busy, or every worker is: try again (Retry-After)"),
    "504": _error("the request took longer than --request-timeout"),
}


def document(version: str) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    components: dict[str, Any] = {"common": schema("common.schema.json")}
    for path, (_, params, command, schema_file) in ENDPOINTS.items():
        key = schema_file.removesuffix(".schema.json")
        components[key] = schema(schema_file)
        paths[f"/api/v1/{path}"] = {
            "get": {
                "summary": f"the document of `{command}`",
                "operationId": path.replace("/", "_"),
                "parameters": _parameters(params),
                "responses": {
                    "200": {
                        "description": f"exactly what `{command}` prints for the same selectors",
                        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{key}"}}},
                    },
                    **ERRORS,
                },
            }
        }
    paths["/api/v1/export"] = {
        "get": {
            "summary": "a cluster's stored samples, as Parquet in the canonical import format",
            "operationId": "export",
            "parameters": _parameters(("cluster", "since")),
            "responses": {
                "200": {"description": "a Parquet file", "content": {"application/vnd.apache.parquet": {}}},
                **ERRORS,
            },
        }
    }
    paths["/"] = {
        "get": {
            "summary": "the HTML report, rendered now",
            "operationId": "report",
            "parameters": _parameters(REPORT_PARAMS),
            "responses": {"200": {"description": "one self-contained page", "content": {"text/html": {}}}, **ERRORS},
        }
    }
    paths["/metrics"] = {
        "get": {
            "summary": "Prometheus text exposition",
            "operationId": "metrics",
            "responses": {"200": {"description": "metrics", "content": {"text/plain": {}}}},
        }
    }
    for probe in ("healthz", "readyz"):
        paths[f"/{probe}"] = {
            "get": {"summary": probe, "operationId": probe, "responses": {"200": {"description": "ok"}}}
        }
    return {
        "openapi": "3.1.0",
        "info": {"title": "upid serve", "version": version, "description": "Read-only: no endpoint writes anything."},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}, {}],
    }
