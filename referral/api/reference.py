"""The API's description: the OpenAPI document and a reference page rendered from it on the
server (no script, nothing from another site)."""

from __future__ import annotations

import itertools
import re

from flask import render_template
from markupsafe import Markup, escape

from . import bp
from .auth import open_to_all
from .problems import PROBLEMS
from .spec import document

METHODS = ("get", "post", "put", "patch", "delete")


@bp.get("/v1/openapi.json")
@open_to_all
def openapi():
    return document()


_CODE_SPAN = re.compile(r"`{1,2}([^`]+)`{1,2}")  # `code` or ``code``


def with_code(text: str | None) -> Markup:
    """The document's descriptions are Markdown-ish: their `code` spans as <code>, the rest
    escaped."""
    parts = _CODE_SPAN.split(text or "")  # odd ones: inside backticks
    return Markup("").join(
        Markup("<code>{}</code>").format(part) if odd else escape(part)
        for odd, part in zip(itertools.cycle((False, True)), parts, strict=False)
    )


def type_of(schema: dict) -> str:
    """A property's type in a few words: ``integer``, ``list of Specialism``, ``accept | …``."""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " or ".join(type_of(part) for part in schema["anyOf"])
    if "enum" in schema:
        return " | ".join(str(value) for value in schema["enum"])
    if "const" in schema:
        return str(schema["const"]).lower()
    kind = schema.get("type", "any")
    if kind == "array":
        return f"list of {type_of(schema.get('items', {}))}"
    return f"{kind} ({schema['format']})" if "format" in schema else str(kind)


def _schema_of(content: dict) -> dict:
    """The schema of a request's or an answer's body (one media type each)."""
    return next(iter(content.values()))["schema"] if content else {}


def _operations(spec: dict) -> list[dict]:
    operations = []
    for path, methods in spec["paths"].items():
        for method in METHODS:
            if method not in methods:
                continue
            operation = methods[method]
            body = _schema_of(operation.get("requestBody", {}).get("content", {}))
            operations.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "id": operation["operationId"],
                    "summary": operation.get("summary", ""),
                    "description": operation.get("description", ""),
                    "parameters": operation.get("parameters", []),
                    "body": type_of(body) if body else None,
                    "responses": [
                        (status, answer["description"], type_of(schema) if schema else "")
                        for status, answer in sorted(operation["responses"].items())
                        for schema in [_schema_of(answer.get("content", {}))]
                    ],
                }
            )
    return operations


@bp.get("/v1/reference")
@open_to_all
def reference():
    spec = document()
    return render_template(
        "api/reference.html",
        spec=spec,
        operations=_operations(spec),
        schemas=spec["components"]["schemas"],
        problems=sorted(PROBLEMS.items(), key=lambda item: (item[1][0], item[0])),
        type_of=type_of,
        with_code=with_code,
    )
