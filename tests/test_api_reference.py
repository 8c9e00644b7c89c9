"""docs/api.md describes the whole HTTP API, and nothing the service does not serve.

The reference is read with markdown-it, never with regular expressions over the raw text:

- every operation is a heading of its own, ``METHOD /path``, with the path exactly as the
  OpenAPI document spells it (parameter names included);
- every field of an operation's request body, query and success responses is named in a
  code span, in the operation's section or in an object section (a heading ending in
  "object", such as "The comment object") that the section links to, directly or
  through other object sections;
- every status the OpenAPI document lists for an operation appears in its section;
- the "Error codes" table lists exactly the codes the service can answer with;
- every operation has a ``curl`` example against the address ``make run`` serves.

A few endpoints are served outside the OpenAPI document (probes, the document itself,
metrics, the reference page, the widget's files): they are listed in ``NOT_IN_OPENAPI``,
and must be documented like the others.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from markdown_it import MarkdownIt
from markdown_it.token import Token

from engagement import PROJECT_ROOT, errors
from tests.test_docs import _slug

API_REFERENCE = PROJECT_ROOT / "docs" / "api.md"
BASE_URL = "http://127.0.0.1:8000"
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
OPERATION_HEADING = re.compile(r"(GET|POST|PUT|PATCH|DELETE) (/[^\s`]*)")

# Served by the service but not part of the OpenAPI document; documented in api.md all the same.
NOT_IN_OPENAPI = frozenset(
    {
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/api/v1/openapi.json"),
        ("GET", "/metrics"),
        ("GET", "/api/v1/docs"),
        ("GET", "/embed.js"),
        ("GET", "/embed.css"),
        ("GET", "/embed.{digest}.js"),
        ("GET", "/embed.{digest}.css"),
        ("GET", "/embed/lang/{lang}.json"),
        ("GET", "/demo"),
        ("GET", "/demo.js"),
        ("GET", "/demo.css"),
        ("GET", "/mod"),
        ("GET", "/mail/confirm"),
        ("POST", "/mail/confirm"),
        ("GET", "/mail/unsubscribe"),
        ("POST", "/mail/unsubscribe"),
    }
)
# The reference page's and the console's own scripts and stylesheets, documented with their pages.
ASSET_PREFIXES = ("/api/v1/docs/", "/mod/")

ERROR_CODES_HEADING = "Error codes"
ERROR_OBJECT_HEADING = "The error object"

_MARKDOWN = MarkdownIt("commonmark").enable("table")


# --- reading the reference ------------------------------------------------------------------

@dataclass
class Section:
    """A heading and the blocks under it, up to the next heading of the same or a higher level."""

    title: str
    level: int
    slug: str
    tokens: list[Token] = field(default_factory=list)

    @property
    def operation(self) -> tuple[str, str] | None:
        match = OPERATION_HEADING.fullmatch(self.title)
        return (match.group(1), match.group(2)) if match else None

    @property
    def is_object(self) -> bool:
        return self.operation is None and self.title.lower().endswith(" object")

    def _inline_children(self) -> Iterator[Token]:
        for token in self.tokens:
            if token.type == "inline":
                yield from token.children or []

    def code_spans(self) -> list[str]:
        return [child.content.strip() for child in self._inline_children() if child.type == "code_inline"]

    def anchors_linked(self) -> set[str]:
        hrefs = (str(child.attrGet("href")) for child in self._inline_children() if child.type == "link_open")
        return {href[1:] for href in hrefs if href.startswith("#")}

    def code_blocks(self) -> list[str]:
        return [token.content for token in self.tokens if token.type in ("fence", "code_block")]


def parse_sections(text: str) -> list[Section]:
    tokens = _MARKDOWN.parse(text)
    sections: list[Section] = []
    open_sections: list[Section] = []
    seen: dict[str, int] = {}
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token.type == "heading_open":
            level = int(token.tag[1:])
            title = tokens[index + 1].content.strip()
            slug = _slug(title)
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            section = Section(title, level, slug if count == 0 else f"{slug}-{count}")
            open_sections = [s for s in open_sections if s.level < level] + [section]
            sections.append(section)
            index += 3  # heading_open, inline, heading_close
            continue
        for section in open_sections:
            section.tokens.append(token)
        index += 1
    return sections


def names_in(spans: list[str]) -> set[str]:
    """Field names written as code spans: ``name`` or a dotted path such as ``author.name``."""
    names: set[str] = set()
    for span in spans:
        if re.fullmatch(r"[A-Za-z_][\w.]*", span):
            names.update(part for part in span.split(".") if part)
    return names


def statuses_in(spans: list[str]) -> set[str]:
    return {match.group(1) for span in spans if (match := re.match(r"(\d{3})\b", span))}


# --- reading the OpenAPI document -----------------------------------------------------------

def openapi_operations(spec: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    operations = {}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method.upper() in METHODS:
                operations[(method.upper(), path)] = operation
    return operations


def _resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        kind, name = node["$ref"].split("/")[-2:]
        node = spec["components"][kind][name]
    return node


def field_names(spec: dict[str, Any], schema: dict[str, Any], seen: set[str] | None = None) -> set[str]:
    """Every property name of a schema, nested objects, list items and map values included."""
    seen = set() if seen is None else seen
    if "$ref" in schema:
        if schema["$ref"] in seen:
            return set()
        seen.add(schema["$ref"])
        return field_names(spec, _resolve(spec, schema), seen)
    names: set[str] = set()
    for name, sub in schema.get("properties", {}).items():
        names.add(name)
        names |= field_names(spec, sub, seen)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            names |= field_names(spec, schema[key], seen)
    for key in ("allOf", "oneOf", "anyOf"):
        for sub in schema.get(key, []):
            names |= field_names(spec, sub, seen)
    return names


def _json_schema(spec: dict[str, Any], holder: dict[str, Any]) -> dict[str, Any] | None:
    content = _resolve(spec, holder).get("content", {})
    return content.get("application/json", {}).get("schema")


def operation_fields(spec: dict[str, Any], operation: dict[str, Any]) -> set[str]:
    """The names of the request body's fields, the query parameters and the success responses' fields."""
    names: set[str] = set()
    if "requestBody" in operation and (schema := _json_schema(spec, operation["requestBody"])):
        names |= field_names(spec, schema)
    names |= {p["name"] for p in operation.get("parameters", []) if _resolve(spec, p)["in"] == "query"}
    for status, response in operation["responses"].items():
        if status.startswith("2") and (schema := _json_schema(spec, response)):
            names |= field_names(spec, schema)
    return names


def error_fields(spec: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for operation in openapi_operations(spec).values():
        for status, response in operation["responses"].items():
            if not status.startswith("2") and (schema := _json_schema(spec, response)):
                names |= field_names(spec, schema)
    return names


# --- the service's error codes ----------------------------------------------------------------

def service_error_codes() -> dict[str, set[int]]:
    """code -> statuses, from the service's own definitions: the status table for errors raised
    by Flask, Werkzeug, webargs and gunicorn, and every domain error class."""
    codes: dict[str, set[int]] = {}
    for status, (code, _message) in errors.HTTP_ERROR_CODES.items():
        codes.setdefault(code, set()).add(status)
    pending: list[type[errors.DomainError]] = [errors.DomainError]
    while pending:
        error = pending.pop()
        if error.__module__.startswith("engagement."):
            codes.setdefault(error.code, set()).add(error.status)
        pending.extend(error.__subclasses__())
    return codes


# --- the checks, as functions of the text (so they can be tried on altered copies) ------------

def operation_problems(text: str, spec: dict[str, Any]) -> list[str]:
    sections = parse_sections(text)
    problems = []
    documented: dict[tuple[str, str], int] = {}
    for section in sections:
        first_word = section.title.split(" ", 1)[0]
        if first_word in METHODS and section.operation is None:
            problems.append(f"heading {section.title!r}: write one operation as 'METHOD /path'")
        if section.operation is not None:
            documented[section.operation] = documented.get(section.operation, 0) + 1
    problems += [f"{m} {p}: documented {n} times" for (m, p), n in documented.items() if n > 1]
    in_openapi = set(openapi_operations(spec))
    problems += [f"{m} {p}: in the OpenAPI document, not in api.md" for m, p in sorted(in_openapi - set(documented))]
    problems += [
        f"{m} {p}: in api.md, neither in the OpenAPI document nor in NOT_IN_OPENAPI"
        for m, p in sorted(set(documented) - in_openapi - NOT_IN_OPENAPI)
    ]
    problems += [f"{m} {p}: in NOT_IN_OPENAPI, not in api.md" for m, p in sorted(NOT_IN_OPENAPI - set(documented))]
    return problems


def _object_closure(sections: list[Section], start: Section) -> list[Section]:
    objects = {section.slug: section for section in sections if section.is_object}
    reached: dict[str, Section] = {}
    pending = list(start.anchors_linked())
    while pending:
        slug = pending.pop()
        if slug in objects and slug not in reached:
            reached[slug] = objects[slug]
            pending.extend(objects[slug].anchors_linked())
    return list(reached.values())


def field_problems(text: str, spec: dict[str, Any]) -> list[str]:
    sections = parse_sections(text)
    operations = openapi_operations(spec)
    problems = []
    for section in sections:
        if section.operation not in operations:
            continue
        spans = section.code_spans()
        for linked in _object_closure(sections, section):
            spans += linked.code_spans()
        missing = operation_fields(spec, operations[section.operation]) - names_in(spans)
        if missing:
            problems.append(f"{section.title}: fields not described: {', '.join(sorted(missing))}")
    error_sections = [s for s in sections if s.title == ERROR_OBJECT_HEADING]
    if len(error_sections) != 1:
        problems.append(f"expected one section {ERROR_OBJECT_HEADING!r}")
    else:
        missing = error_fields(spec) - names_in(error_sections[0].code_spans())
        if missing:
            problems.append(f"{ERROR_OBJECT_HEADING}: fields not described: {', '.join(sorted(missing))}")
    return problems


def error_table(text: str) -> list[tuple[str, str]]:
    """(code, status) of each row of the table under the "Error codes" heading."""
    sections = [s for s in parse_sections(text) if s.title == ERROR_CODES_HEADING]
    assert len(sections) == 1, f"expected one section {ERROR_CODES_HEADING!r}"
    rows: list[tuple[str, str]] = []
    cells: list[Token] = []
    in_body = False
    for token in sections[0].tokens:
        if token.type == "tbody_open":
            in_body = True
        elif token.type == "tr_open":
            cells = []
        elif token.type == "inline" and in_body:
            cells.append(token)
        elif token.type == "tr_close" and in_body:
            codes = [c.content for c in cells[0].children or [] if c.type == "code_inline"]
            rows.append((codes[0] if len(codes) == 1 else cells[0].content, cells[1].content.strip()))
    return rows


# --- fixtures -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def reference() -> str:
    return API_REFERENCE.read_text()


@pytest.fixture
def spec(app: Flask) -> dict[str, Any]:
    response = app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()  # type: ignore[no-any-return]


# --- operations -----------------------------------------------------------------------------

def test_every_operation_is_documented_once_and_every_documented_one_exists(reference: str, spec: dict[str, Any]):
    assert operation_problems(reference, spec) == []


def test_the_operation_check_notices_a_missing_and_an_invented_heading(reference: str, spec: dict[str, Any]):
    heading = "### GET /api/v1/articles/{key}/comments\n"
    assert heading in reference
    without = reference.replace(heading, "### Reading a thread\n")
    assert any("GET /api/v1/articles/{key}/comments" in p for p in operation_problems(without, spec))
    invented = reference + "\n### POST /api/v1/articles/{key}/shares\n\nShare an article.\n"
    assert any("/shares" in p for p in operation_problems(invented, spec))
    renamed = reference.replace("### PATCH /api/v1/comments/{comment_id}\n", "### PATCH /api/v1/comments/{id}\n")
    assert any("/api/v1/comments/{id}" in p for p in operation_problems(renamed, spec))


def _served_routes(app: Flask) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        if path != "/":
            path = path.rstrip("/")
        for method in rule.methods or ():
            if method not in ("HEAD", "OPTIONS"):
                routes.add((method, path))
    return routes


def test_every_route_the_service_serves_is_documented(app: Flask, reference: str, spec: dict[str, Any]):
    documented = set(openapi_operations(spec)) | {
        s.operation for s in parse_sections(reference) if s.operation in NOT_IN_OPENAPI
    }
    undocumented = sorted(
        f"{method} {path}"
        for method, path in _served_routes(app) - documented
        if not path.startswith(ASSET_PREFIXES)
    )
    assert undocumented == []


# --- fields and statuses --------------------------------------------------------------------

def test_every_request_and_response_field_is_described(reference: str, spec: dict[str, Any]):
    assert field_problems(reference, spec) == []


def test_the_field_check_notices_an_undescribed_field(reference: str, spec: dict[str, Any]):
    comment = spec["components"]["schemas"]["PublicComment"]
    comment["properties"]["sentiment"] = {"type": "string"}
    problems = field_problems(reference, spec)
    assert any("GET /api/v1/articles/{key}/comments" in p and "sentiment" in p for p in problems)
    assert any("PATCH /api/v1/comments/{comment_id}" in p and "sentiment" in p for p in problems)


def test_every_status_the_openapi_document_lists_is_described(reference: str, spec: dict[str, Any]):
    sections = {s.operation: s for s in parse_sections(reference) if s.operation}
    missing = []
    for key, operation in openapi_operations(spec).items():
        if key not in sections:
            continue  # reported by the operations test
        listed = {status for status in operation["responses"] if status != "default"}
        absent = listed - statuses_in(sections[key].code_spans())
        if absent:
            missing.append(f"{key[0]} {key[1]}: {', '.join(sorted(absent))}")
    assert missing == []


# --- error codes ----------------------------------------------------------------------------

def test_the_error_code_table_lists_exactly_the_codes_the_service_answers_with(reference: str):
    codes = service_error_codes()
    table = error_table(reference)
    listed = [code for code, _status in table]
    assert len(listed) == len(set(listed)), "a code is listed twice"
    assert sorted(set(listed) - set(codes)) == [], "codes the service never answers with"
    assert sorted(set(codes) - set(listed)) == [], "codes the service answers with, missing from the table"
    wrong = [(code, status) for code, status in table if not status.isdigit() or int(status) not in codes[code]]
    assert wrong == []


def test_every_status_and_code_written_together_is_a_real_pair(reference: str):
    codes = service_error_codes()
    pairs = set()
    for section in parse_sections(reference):
        for span in section.code_spans():
            if match := re.fullmatch(r"(\d{3}) ([a-z_]+)", span):
                pairs.add((int(match.group(1)), match.group(2)))
    assert pairs, "no `status code` pairs found"
    assert sorted((status, code) for status, code in pairs if status not in codes.get(code, set())) == []


# --- examples -------------------------------------------------------------------------------

def _curl_commands(block: str) -> list[str]:
    """The block's commands that call curl, continuation lines joined."""
    logical = re.sub(r"\\\n\s*", " ", block).splitlines()
    return [line for line in logical if re.search(r"(^|[\s(])curl\s", line)]


def test_every_operation_has_a_curl_example_against_the_local_server(reference: str):
    sections = parse_sections(reference)
    without = [s.title for s in sections if s.operation and not any(_curl_commands(b) for b in s.code_blocks())]
    assert without == []
    commands = [command for s in sections for b in s.code_blocks() for command in _curl_commands(b)]
    assert [command for command in commands if BASE_URL + "/" not in command] == []
