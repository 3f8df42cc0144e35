"""RFC 9457 problem+json errors: every rule broken by a request becomes a 4xx naming the field
and the rule, never a 500."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from styrkedja_contracts.identifiers import PIN_ERROR

from .rules import RuleViolation

PROBLEM_JSON = "application/problem+json"
TITLES = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found", 409: "Conflict",
          413: "Too large", 422: "Rule broken"}


class Problem(Exception):
    """A rule broken by the request. `errors` lists {field, rule, message}."""

    def __init__(self, status: int, title: str, detail: str, errors: list[dict[str, Any]] | None = None,
                 type_: str = "about:blank") -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.errors, self.type = status, title, detail, errors or [], type_


def field_error(field: str, rule: str, message: str) -> dict[str, str]:
    return {"field": field, "rule": rule, "message": message}


def problem_response(status: int, title: str, detail: str, errors: list[dict[str, Any]] | None = None,
                     type_: str = "about:blank", instance: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"type": type_, "title": title, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def _location(loc: tuple) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "body"


def _rule(error: dict[str, Any]) -> str:
    if PIN_ERROR in str(error.get("msg", "")):
        return "no_personal_identity_number"
    return error.get("type", "invalid")


def validation_errors(errors: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [field_error(_location(tuple(e.get("loc", ()))), _rule(e), e.get("msg", "invalid")) for e in errors]


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc.status, exc.title, exc.detail, exc.errors, exc.type, request.url.path)

    @app.exception_handler(RuleViolation)
    async def _rule(request: Request, exc: RuleViolation) -> JSONResponse:
        return problem_response(exc.status, TITLES.get(exc.status, "Rule broken"), str(exc),
                                [field_error(exc.field, exc.rule, exc.message)], instance=request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = validation_errors(list(exc.errors()))
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:10])
        return problem_response(422, "Invalid request", detail, errors, instance=request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(exc.status_code, str(exc.detail), str(exc.detail), instance=request.url.path)
