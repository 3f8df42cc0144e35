"""`styrkedja demo`: fill a running system with Mittköping, the demo municipality.

Generates it (deterministic for `--seed`), writes its directory as an SS 12000 folder dump,
imports that with `styrkedja import ss12000 --dir` when this installation has the command, then
publishes two school years of results through the services' HTTP APIs. Running it again changes
nothing. The generator and publisher live in the dev-only package `styrkedja_demo`.

Tokens: unless given, the demo signs its own with the dev issuer of `styrkedja run` (its key is in
`--state-dir`): a platform client's for Mittköping (assessments, forecasts, the directory import)
and each school unit's principal's for its LIKA self-assessment.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

IMPORT_COMMAND = ("import", "ss12000")
from .options import folder, given_as


def _url_option(service: str, port: int, help: str) -> Any:
    """A service's URL option, `STYRKEDJA_<SERVICE>_URL` from the environment when not given (`_service_url`)."""
    return typer.Option(f"http://127.0.0.1:{port}", envvar=f"STYRKEDJA_{service.upper()}_URL", callback=_service_url,
                        help=help)


def _service_url(ctx: typer.Context, param: typer.CallbackParam, text: str) -> str:
    """A service's base URL, checked before anything is generated: `notaurl`, `http://[::1` or a control character
    stopped the demo after the dump with "is the system running?" (exit 1), and a port past 65535 was a
    traceback (OverflowError from the socket); each is a usage error naming the option — or the variable of the
    environment it came from (`STYRKEDJA_REPORTING_URL=notaurl` was told of --reporting-url, never typed)."""
    import httpx

    # quoted as click quotes an option (whose own hint names the variable beside it, whichever was given)
    hint = f"'{given_as(ctx, param.name, param.opts[0])}'" if param.name and param.opts else None
    shown = repr(text if len(text) <= 100 else text[:99] + "\u2026")
    try:
        url = httpx.URL(text)
    except httpx.InvalidURL as error:
        raise typer.BadParameter(f"{shown} is not a URL ({error})", param_hint=hint) from None
    if url.scheme not in ("http", "https") or not url.host:
        raise typer.BadParameter(f"{shown}: an http:// or https:// URL with a host, e.g. http://127.0.0.1:8104",
                                 param_hint=hint)
    if url.port is not None and not 0 < url.port <= 65535:
        raise typer.BadParameter(f"{shown}: the port must be 1-65535", param_hint=hint)
    return text


def _reach(peers: dict[str, tuple[str, str]]) -> None:
    """Each service the demo will ask, reached before anything is generated or written, within
    STYRKEDJA_CONNECT_TIMEOUT_SECONDS (`styrkedja_kit.reach`, as the ops commands): a service that accepts and
    never answers was a bare "ReadTimeout:" after 120 s. The first that did not answer (in the order of the
    options) is said. A refused connection passes: the demo writes its dump all the same, and the first request
    says it with the usual why of a newcomer (no `make run`)."""
    from .reach import connect_seconds, http_peer, reach_http

    seconds = connect_seconds()

    async def all_of_them() -> list[BaseException | None]:
        return await asyncio.gather(*(reach_http(http_peer(f"the {name} service", url, option), url, seconds,
                                                 refused_is_said_later=True)
                                      for name, (url, option) in peers.items()), return_exceptions=True)

    for outcome in asyncio.run(all_of_them()):
        if isinstance(outcome, BaseException):
            raise outcome


#: the paths the demo asks of each service (`styrkedja_demo.publisher`)
_PATHS = {"assessment": ("assessments",), "forecast": ("forecasts",), "LIKA": ("self-assessments", "catalogue")}


def _unanswered_midway(error: httpx.HTTPError, peers: dict[str, tuple[str, str]], timeout: httpx.Timeout) -> str:
    """A service that answered the demo's first contact and then did not: the one rule's line, naming it by the
    URL of the request that failed; what was stored stays (each id is fixed: running the demo again completes it)."""
    from .reach import http_peer, unanswered

    try:
        asked = str(error.request.url)
    except RuntimeError:  # no request attached: nothing to name it by
        asked = ""
    at_url = [(n, p) for n, p in peers.items() if asked.startswith(p[0].rstrip("/"))]
    # one URL for several services (a proxy in front): the path says which was asked
    by_path = [(n, p) for n, p in at_url if any(f"/v1/{part}" in asked for part in _PATHS.get(n, ()))]
    name, (url, option) = (by_path or at_url or [("", ("", ""))])[0]
    outcome = "what was stored before stays; running the demo again completes it"
    if isinstance(error, httpx.ConnectError):
        outcome += "; is the system running (`make run` in another terminal)?"
    said = unanswered(http_peer(f"the {name} service", url, option), error, timeout, bound_by=None,
                      outcome=outcome) if name and isinstance(error, httpx.TransportError) else None
    return str(said) if said is not None else f"{type(error).__name__}: {error}; {outcome}"


def _has_command(app: typer.Typer, path: tuple[str, ...]) -> bool:
    """Whether `styrkedja <path…>` exists in this installation (typer ships its own click: duck-typed)."""
    command: object = typer.main.get_command(app)
    for name in path:
        commands = getattr(command, "commands", None)
        if not isinstance(commands, dict) or name not in commands:
            return False
        command = commands[name]
    return True


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        ctx: typer.Context,
        seed: int = typer.Option(1, help="the same seed gives the same municipality, ids and results"),
        students: int = typer.Option(6000, min=50, max=200_000, help="size: about 6,000 is Mittköping; "
                                                                     "600 for a quick run"),
        dump_dir: Path = typer.Option(Path(".styrkedja/demo/ss12000"), parser=folder, help="where the SS 12000 dump is written"),
        assessment_url: str = _url_option("assessment", 8101, "the assessment service"),
        forecast_url: str = _url_option("forecast", 8102, "the forecast service"),
        lika_url: str = _url_option("lika", 8103, "the LIKA service"),
        reporting_url: str = _url_option("reporting", 8104, "the reporting service"),
        assessment_token: str | None = typer.Option(None, envvar="STYRKEDJA_DEMO_ASSESSMENT_TOKEN",
                                                    help="bearer token for the assessment service"),
        forecast_token: str | None = typer.Option(None, envvar="STYRKEDJA_DEMO_FORECAST_TOKEN",
                                                  help="bearer token for the forecast service"),
        lika_token: str | None = typer.Option(None, envvar="STYRKEDJA_DEMO_LIKA_TOKEN",
                                              help="bearer token for the LIKA service"),
        reporting_token: str | None = typer.Option(None, envvar="STYRKEDJA_DEMO_REPORTING_TOKEN",
                                                   help="bearer token for the directory import (reporting)"),
        state_dir: Path = typer.Option(Path(".styrkedja"), parser=folder, help="the state dir of `styrkedja run`: its dev issuer "
                                                                "signs the tokens not given"),
        skip_import: bool = typer.Option(False, help="do not import the SS 12000 dump"),
    ) -> None:
        """Fill the running system with Mittköping: ~20 school units, ~6,000 students, two school years."""
        try:
            from styrkedja_demo import generator, publisher, ss12000
            from styrkedja_demo.tokens import DemoTokens, role_examples
        except ImportError:
            raise typer.BadParameter("the demo package is not installed here: `make install` installs it") from None
        console = Console(stderr=True)
        peers = {"assessment": (assessment_url, given_as(ctx, "assessment_url", "--assessment-url")),
                 "forecast": (forecast_url, given_as(ctx, "forecast_url", "--forecast-url")),
                 "LIKA": (lika_url, given_as(ctx, "lika_url", "--lika-url"))}
        if not skip_import and _has_command(app, IMPORT_COMMAND):
            peers["reporting"] = (reporting_url, given_as(ctx, "reporting_url", "--reporting-url"))
        minter = _minter(state_dir)  # a damaged dev issuer is a usage error, said before any service is asked
        _reach(peers)
        with console.status("generating Mittköping"):
            muni = generator.generate(seed, students)
            try:
                counts = ss12000.write_dump(muni, dump_dir)
            except OSError as error:  # a file where the folder goes, a folder it may not write: a usage error
                raise typer.BadParameter(f"cannot write the SS 12000 dump in {str(dump_dir)!r}: "
                                         f"{error.strerror or type(error).__name__}", param_hint="--dump-dir") from None
        console.print(f"Mittköping (seed {seed}): {len(muni.units)} school units, {len(muni.groups)} groups, "
                      f"{len(muni.students)} students, {len(muni.teachers)} teachers; "
                      f"SS 12000 dump in {dump_dir} ({', '.join(f'{n} {e}' for e, n in counts.items())})")

        tokens, signed = _tokens(DemoTokens, minter, state_dir, muni.organiser_code)
        console.print(signed)
        platform = tokens.platform
        principal = tokens.principal
        if lika_token:  # one token for every unit's LIKA (an organiser admin's, say)
            principal = lambda _unit: lika_token  # noqa: E731

        imported = "skipped (--skip-import)"
        if not skip_import:
            if _has_command(app, IMPORT_COMMAND):
                command = typer.main.get_command(app)
                arguments = ["import", "ss12000", "--dir", str(dump_dir), "--reporting-url", reporting_url]
                if reporting_token or platform:
                    arguments += ["--reporting-token", reporting_token or platform]
                try:
                    code = command.main(arguments, prog_name="styrkedja", standalone_mode=False)
                except SystemExit as done:
                    code = done.code
                if code:
                    # the import's own line says why; the usual why for a newcomer is no system at the URL
                    console.print(f"[red]demo stopped: the directory import failed[/red] — is the system running "
                                  f"(`make run` in another terminal) with reporting at {reporting_url}?")
                    raise typer.Exit(1)
                imported = f"imported from {dump_dir}"
            else:
                imported = "skipped: `styrkedja import ss12000` is not in this installation yet"

        columns = (TextColumn("{task.description:<12}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        totals = publisher.phase_totals(muni)
        with Progress(*columns, console=console) as progress:
            tasks = {phase: progress.add_task(phase, total=totals[phase]) for phase in publisher.PHASES}

            def tick(phase: str, n: int, total: int) -> None:
                progress.update(tasks[phase], advance=n)

            try:
                summary = asyncio.run(_publish(publisher, muni, tick, assessment_url, assessment_token or platform,
                                               forecast_url, forecast_token or platform, lika_url, principal))
            except (publisher.PublishError, OSError) as error:
                console.print(f"[red]demo stopped:[/red] {error}")
                raise typer.Exit(1) from None
            except httpx.HTTPError as error:  # a service gone silent or away mid-way: the one rule's line
                said = _unanswered_midway(error, peers, publisher.TIMEOUT)
                console.print(f"[red]demo stopped:[/red] {escape(said)}")
                raise typer.Exit(1) from None

        out = Console()
        table = Table(title=f"Mittköping, seed {seed}")
        keys = sorted({k for c in summary.counts.values() for k in c})
        table.add_column("phase")
        for key in keys:
            table.add_column(key.replace("_", " "), justify="right")
        for phase in publisher.PHASES:
            c = summary.counts.get(phase, {})
            table.add_row(phase, *(str(c.get(k, 0)) for k in keys))
        out.print(table)
        out.print(f"directory: {imported}")
        out.print("nothing changed: it was all there already" if summary.changed() == 0 else
                  f"{summary.changed()} things stored or edited")
        out.print("\n[bold]The story[/bold]")
        for line in generator.story_lines(muni):
            out.print(f"  {line}")
        out.print("\n[bold]Look at[/bold]")
        for path, what in muni.story.links:
            out.print(f"  {what}: {reporting_url.rstrip('/')}{path}")
        styrkedja = _styrkedja_command()
        out.print("\n[bold]Tokens[/bold]: every request needs one (`Authorization: Bearer $TOKEN`); the dev issuer "
                  f"signs one per role with `{styrkedja} token --state-dir {state_dir}` and:")
        dip = muni.unit_named(muni.story.dip_school)
        group = next(g for g in muni.groups if g.unit_id == dip.id)
        for role, arguments in role_examples(muni.organiser_code, area_id=dip.area_id, school_unit_code=dip.code,
                                             group=f"{dip.code}/{group.id}"):
            out.print(f"  {role:<16} {styrkedja} token {arguments}")
        out.print(f"  e.g. TOKEN=$({styrkedja} token --role organiser_admin --organiser {muni.organiser_code}); "
                  f"curl -H \"Authorization: Bearer $TOKEN\" '{reporting_url.rstrip('/')}{muni.story.links[0][0]}'")


def _styrkedja_command() -> str:
    """The `styrkedja` the reader's shell can run (`.venv/bin/styrkedja` when the venv is not activated)."""
    try:
        from styrkedja_devstack.__main__ import styrkedja_command
    except ImportError:
        return "styrkedja"
    return styrkedja_command()


def _minter(state_dir: Path) -> Any:
    """The dev issuer `styrkedja run` left in the state dir, else None."""
    from .token import dev_minter

    try:
        return dev_minter(state_dir)
    except (ImportError, FileNotFoundError):
        return None


def _tokens(demo_tokens: Any, minter: Any, state_dir: Path, organiser_id: str) -> tuple[Any, str]:
    """The dev issuer's tokens when `styrkedja run` has left its key in the state dir, else none."""
    if minter is None:
        return demo_tokens(None), (f"no dev issuer in {state_dir}: sending only the tokens given "
                                   "(--assessment-token, --forecast-token, --lika-token, --reporting-token)")
    return demo_tokens.minted(minter, organiser_id), (
        f"tokens signed by the dev issuer {minter.issuer}: a platform client's for {organiser_id}, "
        "each school unit's principal's for its LIKA")


async def _publish(publisher: ModuleType, muni: Any, tick: Callable[[str, int, int], None], assessment_url: str,
                   assessment_token: str | None, forecast_url: str, forecast_token: str | None, lika_url: str,
                   lika_token: Callable[[str], str] | None) -> Any:
    async with publisher.client(assessment_url, assessment_token) as a, \
            publisher.client(forecast_url, forecast_token) as f, publisher.client(lika_url) as lk:
        return await publisher.publish(muni, publisher.Services(a, f, lk, lika_token), tick)
