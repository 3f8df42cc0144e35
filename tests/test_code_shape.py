"""The house rule on the code's shape, read from the sources (no service started): inside a
service one folder per capability; rules pure; no route talks SQL — routes call a service, a
capability's queries or its one read path; the package top only wires (main, settings, metadata,
persistence) and holds shared helpers, never a capability's routes, rules or tables."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SERVICES = Path(__file__).resolve().parents[1] / "services"
PACKAGES = sorted(p for p in SERVICES.glob("*/src/styrkedja_*") if (p / "__init__.py").is_file())
#: What a route may take from SQLAlchemy: the session type it hands to a query, nothing that builds SQL.
ROUTE_MAY_IMPORT = {"sqlalchemy.ext.asyncio": {"AsyncSession"}}
#: Calls that send SQL: a route hands its session to a query function instead.
SQL_CALLS = {"execute", "scalar", "scalars", "stream", "stream_scalars", "exec_driver_sql"}
#: Modules that do I/O: pure rules import none of them.
IO_MODULES = ("sqlalchemy", "asyncpg", "httpx", "aiokafka", "fastapi", "starlette", "styrkedja_kit.db",
              "styrkedja_kit.outbox", "styrkedja_kit.consumer")
#: Capability modules that belong in a capability folder, not at a service package's top.
CAPABILITY_FILES = {"api.py", "routes.py", "domain.py", "rules.py", "schemas.py", "service.py", "tables.py",
                    "queries.py", "handlers.py"}


def _sources(pattern: str) -> list[Path]:
    return sorted(f for package in PACKAGES for f in package.rglob(pattern) if "migrations" not in f.parts)


def _name(path: Path) -> str:
    return str(path.relative_to(SERVICES))


def _sql_in(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "sqlalchemy":
            allowed = ROUTE_MAY_IMPORT.get(node.module, set())
            found += [f"line {node.lineno}: from {node.module} import {a.name}" for a in node.names
                      if a.name not in allowed]
        elif isinstance(node, ast.Import):
            found += [f"line {node.lineno}: import {a.name}" for a in node.names if a.name.split(".")[0] == "sqlalchemy"]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in SQL_CALLS:
            found.append(f"line {node.lineno}: .{node.func.attr}(...)")
    return found


ROUTES = _sources("*routes.py")


def test_every_service_has_routes_to_check() -> None:
    # a moved tree (or a renamed file pattern) would make the checks below pass on nothing
    assert {p.name for p in PACKAGES} == {f"styrkedja_{s}" for s in
                                          ("assessment", "forecast", "lika", "reporting", "dashboard")}
    assert len(ROUTES) >= 20


@pytest.mark.parametrize("path", ROUTES, ids=_name)
def test_no_route_talks_sql(path: Path) -> None:
    found = _sql_in(ast.parse(path.read_text(encoding="utf-8")))
    assert not found, f"{_name(path)} builds or sends SQL; move it into the capability's queries: {found}"


def test_the_sql_check_finds_sql() -> None:
    """The check above fails on what it is for: a select built and executed in a route."""
    route = ("from sqlalchemy import select\nfrom sqlalchemy.ext.asyncio import AsyncSession\n"
             "async def read(session: AsyncSession):\n    return await session.execute(select(1))\n")
    assert _sql_in(ast.parse(route)) == ["line 1: from sqlalchemy import select", "line 4: .execute(...)"]
    assert _sql_in(ast.parse("from sqlalchemy.ext.asyncio import AsyncSession\n")) == []


#: The disclosure arithmetic of a figure shown to a reader (counts rounded, shares of the counts as shown): applied in
#: the capability's `disclose.py` or in `access/`, the one read path that applies scope and suppression — never in a
#: route file, where round 31's review found it three times (an alert's figures, the support summary, roster sizes).
DISCLOSURE_ARITHMETIC = {"round_count", "share_of_shown", "SHARE_DECIMALS"}


def _disclosure_in(tree: ast.AST) -> list[str]:
    return [f"line {node.lineno}: {a.name}" for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[-1] == "disclosure"
            for a in node.names if a.name in DISCLOSURE_ARITHMETIC]


@pytest.mark.parametrize("path", ROUTES, ids=_name)
def test_no_route_rounds_a_figure_for_its_reader(path: Path) -> None:
    found = _disclosure_in(ast.parse(path.read_text(encoding="utf-8")))
    assert not found, f"{_name(path)} rounds figures for the reader; move it into the capability's disclose.py: {found}"


def test_the_disclosure_check_finds_rounding() -> None:
    assert _disclosure_in(ast.parse("from ..access.disclosure import DisclosureRules, round_count\n")) == [
        "line 1: round_count"]
    assert _disclosure_in(ast.parse("from ..access.disclosure import DisclosureRules, Reason\n")) == []


RULES = _sources("rules.py") + sorted(f for f in SERVICES.glob("lika/src/styrkedja_lika/domain/*.py"))


@pytest.mark.parametrize("path", RULES, ids=_name)
def test_rules_are_pure(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    imported += [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module and not n.level]
    io = [m for m in imported if any(m == io or m.startswith(io + ".") for io in IO_MODULES)]
    assert not io, f"{_name(path)} is rules (pure, no I/O) but imports {io}"


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
def test_the_package_top_only_wires(package: Path) -> None:
    flat = sorted(f.name for f in package.glob("*.py") if f.name in CAPABILITY_FILES)
    assert not flat, f"{package.name} keeps capability modules at its top: {flat} (one folder per capability)"


#: Every runtime source: the services' and the shared packages' (not their tests).
RUNTIME_SOURCES = sorted(f for f in (*SERVICES.glob("*/src/**/*.py"), *SERVICES.parent.glob("packages/*/src/**/*.py"))
                         if "migrations" not in f.parts)


def _wait_fors(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "wait_for" and isinstance(node.value, ast.Name) \
                and node.value.id == "asyncio":
            found.append(f"line {node.lineno}: asyncio.wait_for")
        elif isinstance(node, ast.ImportFrom) and node.module == "asyncio":
            found += [f"line {node.lineno}: from asyncio import wait_for" for a in node.names if a.name == "wait_for"]
    return found


def test_no_bounded_wait_loses_a_cancellation() -> None:
    """No `asyncio.wait_for` in the runtime code: on Python 3.11 it returns its awaitable's result to a caller
    cancelled in the step the awaitable completed (cpython gh-86296), and a consumer loop cancelled so fetched on for
    ever (CI sessions 22, 27, 29). `styrkedja_kit.supervise.within` bounds a wait without that."""
    assert len(RUNTIME_SOURCES) > 100  # the glob still finds the code
    found = {str(p.relative_to(SERVICES.parent)): w for p in RUNTIME_SOURCES
             if (w := _wait_fors(ast.parse(p.read_text(encoding="utf-8"))))}
    assert not found, f"use styrkedja_kit.supervise.within instead: {found}"
    assert _wait_fors(ast.parse("import asyncio\nasync def f(x):\n    await asyncio.wait_for(x, 1)\n")) == [
        "line 3: asyncio.wait_for"]
