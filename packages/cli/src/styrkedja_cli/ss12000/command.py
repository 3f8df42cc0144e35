"""`styrkedja import ss12000 --url URL [--token T]` / `--dir PATH`: read the whole source first
(a page that cannot be read stops the import before anything is sent), then send the
directory changes to the reporting service, which publishes each real change as an event.
Each chunk sent is all or nothing and may be sent again (a busy reporting is asked again, bounded);
a chunk refused stops the import naming it, the chunks before it applied and nothing removed (what a
full run removes goes last): running it again completes it.
A full run (no --since) is a sync for the organisers in the source: what reporting holds for
them that the source no longer has is removed (removal events through reporting's outbox).
An organiser the --reporting-token is for (or --only-organiser names) that the source has nothing of is read too: what
the source placed under another organiser is moved there, the rest kept and said (--gone-organiser: removed whole).
A full run reads what reporting holds for them before it sends anything: a source lacking most of an organiser
stops there, nothing applied. `--organiser ID` names whose a source without a Huvudman is (Skolverket's
reference API); the mapping of the organisation tree and of dates is in `mapping` and `models`.
A second run of the same data changes nothing."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
import uuid
from array import array
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
import jwt
import typer
from httpx import URL, ConnectError, InvalidURL, TimeoutException
from pydantic import BaseModel, TypeAdapter, ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from styrkedja_contracts import OrganisationUnitUpsertedV1
from styrkedja_contracts.identifiers import OrganiserId, redact_personal_identity_numbers

from ..options import given_as, switch_setting
from ..reach import connect_seconds, http_peer, reach_http, unanswered
from .deadline import Deadline, TooSlow, bound, deadline_of
from .mapping import (
    UNDER_REFUSED,
    NoOrganiser,
    Plan,
    Refused,
    keep_organisers,
    plan,
)
from .models import (
    DATE_TIMES_READ,
    DATES_READ_AS_NONE,
    ENTITIES,
    Meta,
    Shared,
    SourceId,
    timestamp,
)
from .moves import (
    across,
    across_said,
    check_not_mass_removal,
    crossed,
    crossed_units,
    groups_gone,
    left_behind,
    moved,
    moved_said,
    present,
    replaced,
    stale_groups,
    surely_vanishing,
    taught_by_deleted,
    units_new,
    unlisted_said,
    vanished,
)
from .oauth import ClientCredentials
from .source import (
    MAX_EMPTY_PAGES,
    SINCE_SLACK,
    SOURCE_RETRIED,
    TRANSIENT,
    FolderSource,
    HttpSource,
    SourceError,
    one_line,
    retry_after_seconds,
    server_said,
    strict_json,
    without_secrets,
)
from .summary import UNSURE, _by_design, _only_said, _refused_said, _said, _table

CHUNK = 1_000
#: the longest one answer of reporting may take to arrive whole (`_ask`), headers and body: its reads have 120 s each,
#: and one trickling a byte a minute (a proxy, a stub at --reporting-url) held the import as long as it chose before
#: round 36. A chunk of changes is answered in seconds; reporting's list of what it holds is paged.
#: --reporting-answer-seconds sets it (`PAGE_SECONDS`' bounds: as a page's of the source)
REPORTING_ANSWER_SECONDS = 600.0
#: the exit code of `--strict` when anything was refused or left out (the import itself ran as without it)
STRICT_EXIT = 3
#: what an import lacks when the server holds an optional entity back (models.OPTIONAL)
LACKING = {"persons": "groups' years from enrolments unknown",
           "syllabuses": "teaching assignments without subjects, no years from syllabuses"}
INCREMENTAL = ("groups", "activities")
#: what /persons is asked to expand when a group is served without its memberships (SS 12000's PersonExpanded)
PERSON_MEMBERSHIPS = "groupMemberships"
#: bounds of the importer's limits as flags: a page of a slow server in at least a second and at most a day; from
#: one page per entity to ten million (a national source at the smallest page size is some hundred thousand)
PAGE_SECONDS = (1.0, 86_400.0)
MAX_PAGES = (1, 10_000_000)
#: the largest page a flag may allow, in MiB (4 GiB: a server's page is held in memory while it is parsed, never
#: written to a file, `source.Body`; 16 GiB while its bytes beyond 4 MiB waited on disk, before round 36)
MAX_PAGE_MIB = 4_096
#: the most items a page is asked to hold (`--page-size`): a page is read whole, its items sent in `CHUNK`s
PAGE_SIZE_MAX = 10_000


#: how often a long import says how far it is when its output is no terminal (a scheduled job's log), in seconds
LOGGED_PROGRESS_SECONDS = 30.0


class _Progress(Progress):
    """rich's progress bars, which a terminal shows as they move; written to a log (no terminal) they are drawn once,
    at the end. There each bar says how far it is once every `LOGGED_PROGRESS_SECONDS`, on a line of its own
    (`read groups: 120000`, `send memberships: 3000 of 41000`), so that a long import's log shows it is moving."""

    def __init__(self, *columns: Any, console: Console) -> None:
        super().__init__(*columns, console=console)
        self._logged = time.monotonic()

    def update(self, task_id: Any, **changes: Any) -> None:
        super().update(task_id, **changes)
        if self.console.is_terminal or time.monotonic() - self._logged < LOGGED_PROGRESS_SECONDS:
            return
        self._logged = time.monotonic()
        task = self._tasks[task_id]
        of = f" of {task.total:.0f}" if task.total is not None else ""
        self.console.print(f"{task.description}: {task.completed:.0f}{of}", highlight=False)


def read_and_plan(source: FolderSource | HttpSource, *, since: datetime | None, naive_zone: ZoneInfo,
                  progress: Progress | None = None, organiser: tuple[str, str] | None = None,
                  held: Callable[[list[str]], dict[str, list[tuple[str, str]]]] | None = None) -> tuple[Plan, list[str]]:
    """The source read whole and planned; `organiser` (id, name): whose a source without a Huvudman is. `held`: what
    reporting holds for the organisers named (as `held`), asked by an incremental run to tell whether it moves or
    leaves out a group reporting holds (`groups_gone`: then the activities are read whole)."""
    date_times: Counter[str] = Counter()
    as_none: Counter[str] = Counter()
    counting, nones = DATE_TIMES_READ.set(date_times), DATES_READ_AS_NONE.set(as_none)
    try:
        the_plan, deleted = _read_and_plan(source, since=since, naive_zone=naive_zone, progress=progress,
                                           organiser=organiser, held=held)
    finally:
        DATE_TIMES_READ.reset(counting)
        DATES_READ_AS_NONE.reset(nones)
        # the items are planned (or the import stopped): the values they held alike are no longer held for them
        source.shared = Shared()
    the_plan.dates_from_date_times = dict(sorted(date_times.items()))
    the_plan.dates_read_as_none = dict(sorted(as_none.items()))
    return the_plan, deleted


#: the most unchanged groups an incremental run asks for one by one (`/groups/{id}`); more, and the list is read
#: whole (a page of `--page-size` groups per request instead of one: a server without `meta` on its persons names
#: every group a person is in)
ONE_BY_ONE = 200


def earliest_instant(local: datetime, zone: ZoneInfo) -> datetime:
    """The earliest instant a local time of `zone` can mean, in UTC: `--since` without an offset. On the last Sunday
    of October 02:30 is two instants in Sweden, on the last Sunday of March none (the clock skips 02:00-03:00): an
    incremental import reads what changed after it, so it starts at the earlier — read again is safe (`unchanged` at
    reporting), not read is a loss. `replace(tzinfo=…)` alone took 02:30 of the missing hour as 01:30 UTC (03:30
    Swedish summer time), and what changed from 03:00 to 03:30 was not read (round 28t). In UTC: two moments of one
    zone are compared by their wall times alone, whatever their fold."""
    return min(local.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1))


def latest_instant(local: datetime, zone: ZoneInfo) -> datetime:
    """The latest instant a local time of `zone` can mean, in UTC: an item's `meta.modified` (or `created`) without an
    offset, asked whether it changed after `--since`. The mirror of `earliest_instant`: 02:30 on the last Sunday of
    October is 00:30 and 01:30 UTC, and an item changed in the second 02:30 was read as changed in the first — before a
    `--since` of 02:45 (the first), so not read again (a person's new membership of an unchanged group lost). Taken
    as the later, an item changed at either is read (again: `unchanged` at reporting), never skipped."""
    return max(local.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1))


def changed_since(meta: Meta | None, since: datetime, naive_zone: ZoneInfo) -> bool:
    """Whether an item changed since `since` by its `meta` (modified, else created); without either, unknown: as
    changed (read again is safe, `unchanged` at reporting; not read may be a loss). Within `SINCE_SLACK` before it
    counts, as the server is asked: the specification's own filter is "on or after" (Skolverket's reference API), and
    a server writing whole seconds writes a change at 12:00:00.7 as 12:00:00 — a person changed in the second of
    `--since` was taken as unchanged, and the membership it stated of an unchanged group was not read. A time without
    an offset is the latest instant it can mean in `naive_zone` (`latest_instant`): a re-read is the cost of the
    repeated hour, not a loss."""
    stamp = (meta.modified or meta.created) if meta is not None else None
    if not stamp:
        return True
    when = timestamp(stamp)
    return (when if when.tzinfo is not None else latest_instant(when, naive_zone)) > since - SINCE_SLACK


def _read_and_plan(source: FolderSource | HttpSource, *, since: datetime | None, naive_zone: ZoneInfo,
                   progress: Progress | None, organiser: tuple[str, str] | None,
                   held: Callable[[list[str]], dict[str, list[tuple[str, str]]]] | None = None) -> tuple[Plan, list[str]]:
    tasks: dict[str, Any] = {}

    def tick(entity: str, count: int) -> None:
        if progress is not None:
            if entity not in tasks:
                tasks[entity] = progress.add_task(f"read {entity}", total=None)
            progress.update(tasks[entity], completed=count)

    # the tree, the duties and the syllabuses are small and what every other entity hangs on: read
    # them whole even in an incremental run; groups and activities only as far as they changed.
    # Persons are read whole too (only their ids, enrolments and group memberships are kept): a group's year comes
    # from its members' enrolments, which change without the group changing. Groups are read before persons: a
    # group served without its `groupMemberships` has them stated on its persons (`expand=groupMemberships`), asked
    # for only then
    read: dict[str, Any] = {}
    expanded = False  # whether persons were asked with `expand=groupMemberships`
    for entity in [e for e in ENTITIES if e != "persons"] + ["persons"]:
        expand, in_case = None, False
        if entity == "persons":
            needed = any("memberships" not in g.model_fields_set for g in read["groups"])
            # an incremental run that read no group cannot tell where the server states memberships: asked of persons
            # in case. A server refusing it then has no expansion, so states no memberships there that a changed
            # group would not show: nothing is lost, and nothing said (it was said on every scheduled run)
            in_case = not needed and since is not None and not read["groups"]
            expand = PERSON_MEMBERSHIPS if needed or in_case else None
            expanded = expand is not None
        read[entity] = source.read(entity, since if entity in INCREMENTAL else None, tick, expand=expand,
                                   expand_quietly=in_case)
    deleted = source.deleted(since) if since is not None else []
    # an id no entity of the source can have (SS 12000's ids are UUIDs; the importer takes `SourceId`): nothing was
    # imported of it, so nothing is removed by it. Sent, reporting refused the whole chunk of removals it stood in
    # (422), stopping every run as long as /deletedEntities named it
    absent: set[str] = set()  # groups asked by id that the server has not (`_read_named_groups`)
    readable = [i for i in deleted if _is_source_id(i)]
    not_ids = len(deleted) - len(readable)
    deleted = readable
    if since is not None and hasattr(source, "one"):
        _read_named_groups(source, read, since, naive_zone, tick, deleted, absent)
    the_plan = _planned(read, naive_zone, organiser, deleted, source.persons_deleted_ids, source.shared)
    if since is not None and held is not None:
        # a group this run moves or leaves out takes away what reporting held of it, and the teaching assignments of
        # its unchanged activities cannot be told from the rest (their keys hash the activity, the group and the
        # duty): the activities are read whole then, as a full run reads them, and planned again — a moved group's
        # teaching is sent at its new school unit (its keys unchanged), a left-out group's is left out and removed
        # (`left_behind`). Read only on such a run: on any other, activities stay read as far as they changed.
        # A school unit, an area or a group the source placed under another organiser (`across`) takes its groups,
        # their memberships and their teaching there: the groups are read whole too, and what the old organiser holds
        # of them removed after (a folder's files are read whole: planned once)
        organisers = sorted({c["data"]["unit_id"] for c in the_plan.changes.get("organisations", [])
                             if c["data"]["unit_type"] == "organiser"})
        holdings = held(organisers)
        the_plan.crossed = crossed(the_plan, holdings)
        # (a school unit its organiser's directory does not hold — come from another organiser, whose run removed it
        # there, or new — has its unchanged groups read too: else the unit came without them until a full run)
        # (and a person /deletedEntities names: the memberships that came from its groups, unchanged, are not traced
        # to it — their keys hash the group, the person and the start — so the groups are read whole, each one's list
        # the whole of its members, and what reporting holds that none states any longer removed, `left_behind`)
        units_crossed = (crossed_units(the_plan.crossed, holdings) or bool(units_new(the_plan, holdings))
                         or source.persons_deleted > 0)
        if hasattr(source, "one") and (units_crossed or groups_gone(the_plan, holdings)
                                       or taught_by_deleted(deleted, holdings)):
            if units_crossed:
                read["groups"] = source.read("groups", None, tick)
                if not expanded and any("memberships" not in g.model_fields_set for g in read["groups"]):
                    read["persons"] = source.read("persons", None, tick, expand=PERSON_MEMBERSHIPS)
            read["activities"] = source.read("activities", None, tick)
            _read_named_groups(source, read, since, naive_zone, tick, deleted, absent)
            the_plan = _planned(read, naive_zone, organiser, deleted, source.persons_deleted_ids, source.shared)
            the_plan.crossed = crossed(the_plan, holdings)
    the_plan.deleted_not_ids = not_ids
    return the_plan, deleted


def _planned(read: dict[str, Any], naive_zone: ZoneInfo, organiser: tuple[str, str] | None,
             deleted: list[str], persons_deleted: Collection[str] = (), shared: Shared | None = None) -> Plan:
    """The plan of what was read; `shared`: the source's, whose items and entries refused as they were read the plan
    refuses on its own (`Shared.refused`, `Shared.faults`)."""
    try:
        return plan(read["organisations"], read["groups"], read["duties"], read["activities"], read["syllabuses"],
                    naive_zone=naive_zone, now=datetime.now(UTC), persons=read["persons"], organiser=organiser,
                    deleted=deleted, persons_deleted=persons_deleted,
                    read_refused=shared.refused if shared is not None else None,
                    entry_faults=shared.faults if shared is not None else None)
    except NoOrganiser as error:
        raise SourceError(str(error)) from None


def _read_named_groups(source: FolderSource | HttpSource, read: dict[str, Any], since: datetime, naive_zone: ZoneInfo,
                       tick: Callable[[str, int], None], deleted: Collection[str] = (),
                       absent: set[str] | None = None) -> None:
    # groups that did not change but are named by what did: a changed activity's groups, and the groups a
    # person changed since states memberships of (a server stating memberships only on persons: a person who
    # joined an unchanged group changed, the group did not). Fetched one by one, or the list read whole when
    # they are many; the memberships unchanged persons state of unchanged groups stay as reporting holds them
    known = {g.id for g in read["groups"]}
    wanted = ({ref.id for a in read["activities"] for ref in a.groups}
              | {entry.group.id for p in read["persons"] if changed_since(p.meta, since, naive_zone)
                 for entry in (p.stated_memberships() or ("", []))[1] if entry.group is not None}) - known
    # (not a group /deletedEntities names: asked for, a server answers 404 and the activity naming it was refused as
    # naming a group "not known", every run; the plan leaves its teaching out by design, `plan(deleted=…)`)
    wanted -= set(deleted)
    # (`absent`: the ids a server answered it has not, filled as asked: a run that reads again asks them once)
    absent = set() if absent is None else absent
    wanted -= absent
    if len(wanted) > ONE_BY_ONE:
        whole = source.read("groups", None, tick)
        read["groups"] = read["groups"] + [g for g in whole if getattr(g, "id", None) in wanted]
    elif hasattr(source, "one"):  # (asked only of a server: a folder's files are read whole)
        found = []
        for ident in sorted(wanted):
            group = source.one("groups", ident)
            if group is None:
                absent.add(ident)
            else:
                found.append(group)
        read["groups"] = read["groups"] + found


_SOURCE_ID = TypeAdapter(SourceId)


def _is_source_id(value: str) -> bool:
    try:
        _SOURCE_ID.validate_python(value)
    except ValidationError:
        return False
    return True


# what a directory entity key names → the SS 12000 entity type it came from (for the summary)
_ENTITY_OF_KEY = {"membership": "memberships", "teaching_assignment": "activities", "duty": "duties"}


def _entity_of(key: str) -> str:
    if key.startswith("unit:group:"):
        return "groups"
    return _ENTITY_OF_KEY.get(key.split(":")[0], "organisations")


#: how often one request is made of reporting while it answers "later" (429, 502-504: a busy database's 503
#: `database_busy`), fails (500: a deadlock victim, a worker restarted) or the connection fails on the way, with its
#: Retry-After (or a growing pause, at most 120 s): as the source's pages are asked again (`SOURCE_RETRIED`)
POST_ATTEMPTS = 6


#: the answers after which a request may have been carried out though no 200 came back (reporting applied a chunk
#: and failed answering, a proxy gave up waiting for it): a 5xx. A 429 refuses before anything is done
MAYBE_DONE = frozenset({500, 502, 503, 504})
#: failures on the way after which the request may have been carried out: all but a connection never made
NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


#: what the command says before each pause of `_ask` (why, seconds): a run waiting on a reporting that keeps silent
#: or busy says so as it waits (6 attempts of a 120 s wait each were 12 minutes without a word)
ON_RETRY: ContextVar[Callable[[str, float], None] | None] = ContextVar("styrkedja_ss12000_on_retry", default=None)
#: how the user gave reporting's URL, for what is said of reporting: `--reporting-url`, or `STYRKEDJA_REPORTING_URL`
#: when it came from the environment (`given_as`), set by the command
REPORTING_GIVEN: ContextVar[str] = ContextVar("styrkedja_ss12000_reporting_given", default="--reporting-url")


def _say_retry(why: str, seconds: float) -> None:
    said = ON_RETRY.get()
    if said is not None:
        said(why, seconds)


def _ask(client: httpx.Client, method: str, path: str, what: str, sleep: Callable[[float], None] | None,
         refused_is_final: bool = False, removing: bool = False, **request: Any) -> tuple[httpx.Response, str | None]:
    """Reporting's answer to one request, asked again a bounded number of times while it is busy or failing (each
    request is safe to make again: a chunk of changes is compared with what reporting published, the same again
    `unchanged`; a removal of what is removed already is nothing; a list is a read), and why an earlier attempt
    may have been carried out already (`MAYBE_DONE`, a connection lost once the request was sent: "HTTP 500",
    "ReadTimeout"), else None. The last answer is returned whatever it is; no answer at all stops the import naming
    what was asked. `refused_is_final`: a connection that cannot be made at all (nothing listens, the name does not
    resolve) stops it at once — before anything is written that is reporting not running (`make demo` without
    `make run`), not reporting busy: half a minute of pauses would only hide it."""
    pause = sleep or time.sleep
    maybe_done: str | None = None
    deadline = deadline_of(client)
    whole = REPORTING_ANSWER_SECONDS if deadline is None or deadline.whole is None else deadline.whole
    for attempt in range(1, POST_ATTEMPTS + 1):
        try:
            if deadline is not None:  # the whole answer, headers and body (each read of it has the client's timeout)
                deadline.at = deadline.clock() + whole
            response = client.request(method, path, **request)
        except TooSlow:
            # not asked again: an answer that trickles is no busy service's (a proxy's, a stub's); a chunk sent may
            # have been applied
            slow = http_peer("reporting", str(client.base_url), REPORTING_GIVEN.get()).timed_out(
                whole, bound_by="--reporting-answer-seconds", detail=", the whole answer; each read "
                f"{client.timeout.read:g} s", outcome=None)
            raise SourceError(f"the {what}: {slow}"
                              f"{_run_again(removing, maybe_applied=True) if method == 'POST' else ''}") from None
        except TRANSIENT as error:
            if attempt == POST_ATTEMPTS or (refused_is_final and isinstance(error, ConnectError)):
                # a connection lost once the request was sent (now or on an earlier attempt) may have applied it
                sent_maybe = maybe_done is not None or not isinstance(error, NEVER_SENT)
                after = _run_again(removing, maybe_applied=sent_maybe) if method == 'POST' else ''
                # silence in every command's words (`styrkedja_kit.reach`): reporting's URL, after how long, and
                # the option of its address; its wait is the client's own (120 s, no option)
                said = unanswered(http_peer("reporting", str(client.base_url), REPORTING_GIVEN.get()), error,
                                  client.timeout, bound_by=None, attempts=attempt, outcome=None
                                  ) if isinstance(error, TimeoutException) else None
                if said is not None:
                    raise SourceError(f"the {what}: {said}{after}") from None
                raise SourceError(f"reporting did not {'take' if method == 'POST' else 'answer'} the {what}: "
                                  f"{type(error).__name__} ({attempt} attempt{'s' if attempt > 1 else ''}){after}"
                                  ) from None
            if not isinstance(error, NEVER_SENT):
                maybe_done = maybe_done or type(error).__name__
            seconds = retry_after_seconds(None, attempt)
            _say_retry(f"reporting did not answer the {what} ({type(error).__name__}, attempt {attempt} of "
                       f"{POST_ATTEMPTS})", seconds)
            pause(seconds)
            continue
        finally:
            if deadline is not None:
                deadline.at = None
        if (response.status_code in SOURCE_RETRIED or _key_in_progress(response)) and attempt < POST_ATTEMPTS:
            if response.status_code in MAYBE_DONE:
                maybe_done = maybe_done or f"HTTP {response.status_code}"
            seconds = retry_after_seconds(response.headers.get("retry-after"), attempt)
            _say_retry(f"reporting answered the {what} HTTP {response.status_code} (attempt {attempt} of "
                       f"{POST_ATTEMPTS})", seconds)
            pause(seconds)
            continue
        return response, maybe_done
    raise AssertionError("unreachable")  # pragma: no cover


def reporting_client(url: str, headers: dict[str, str], answer_seconds: float | None = None) -> httpx.Client:
    """The client of reporting at `url` (--reporting-url): each read within 120 s, each answer whole within
    `answer_seconds` (--reporting-answer-seconds; None: `REPORTING_ANSWER_SECONDS`; `_ask` sets its deadline),
    directly or through a proxy from the environment."""
    return bound(httpx.Client(base_url=url, timeout=120, headers=headers), Deadline(whole=answer_seconds))


def _key_in_progress(response: httpx.Response) -> bool:
    """Reporting's 409 for a chunk whose `Idempotency-Key` an earlier attempt still holds (an attempt whose answer
    timed out, still being applied): asked again after its `Retry-After`, it is answered that attempt's outcome."""
    return response.status_code == 409 and b"idempotency_key_in_progress" in response.content


def _reporting_said(response: httpx.Response) -> str:
    """What reporting said with a refusal: its problem's title and detail (RFC 9457, as reporting answers), else the
    body's first 500 characters on one line (a proxy's page), redacted as every error is (`SourceError`)."""
    said = server_said(response.content)
    if said or not response.content.strip():
        return said
    return f" {one_line(response.text[:500]).strip()}"


class _Done(BaseModel):
    status: Literal["created", "changed", "removed", "unchanged"]
    entity_key: str


class _Summary(BaseModel):
    """Reporting's answer to a chunk of changes or removals (its `ChangeSummary`): the counts, and one item per
    entity it wrote or compared."""

    created: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    items: list[_Done] = []
    #: a removal: entities named that reporting holds with no recorded writer (written before its migration 0026),
    #: the organiser admin's to remove — not removed (0 from a reporting that does not say)
    unrecorded_writer: int = 0


class _HeldKey(BaseModel):
    entity_key: str


class _Held(BaseModel):
    """Reporting's answer to what it holds for an organiser (its `HeldEntities`): a page of keys, each one's source
    id, and where the next page starts."""

    items: list[_HeldKey]
    source_ids: list[str | None]
    next_after: str | None = None


M = TypeVar("M", bound=BaseModel)


def _answered(response: httpx.Response, shape: type[M], what: str, after: str = "") -> M:
    """Reporting's 200 read as `shape`; anything else (a proxy's or a login page's HTML, a body cut short, another
    service at --reporting-url) stops the import naming what came instead, never a traceback."""
    kind = response.headers.get("content-type", "none")[:60]
    try:
        return shape.model_validate(strict_json(response.content))
    except (ValueError, RecursionError) as error:  # not JSON, or not reporting's shape (ValidationError)
        rule = ""
        if isinstance(error, ValidationError):
            first = error.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            rule = f": {where}: {first['msg']}" if where else ": not a JSON object"
        raise SourceError(f"reporting answered the {what} with HTTP 200 but not with its answer (content-type {kind})"
                          f"{rule or ': not JSON'}; is {REPORTING_GIVEN.get()} reporting itself?{after}") from None


#: the header naming a chunk to reporting (its `directory/idempotency.py`), and the one saying an answer is the stored
#: outcome of an earlier attempt of it
IDEMPOTENCY_KEY, REPLAYED = "Idempotency-Key", "idempotent-replayed"


def idempotency_key(run: str, path: str, body: dict[str, Any]) -> str:
    """A chunk's `Idempotency-Key`: the SHA-256 of the chunk (its endpoint and body), salted with the run's own id — the
    same chunk asked again within the run is one request to reporting (applied once, its first outcome answered
    again), while the same chunk in a later run is a new one, applied (reporting may have changed in between: a
    platform's write, a removal)."""
    chunk = json.dumps([run, path, body], sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(chunk.encode("utf-8", "surrogatepass")).hexdigest()


def _post(client: httpx.Client, path: str, body: dict[str, Any], what: str,
          sleep: Callable[[float], None] | None = None, *, sent: int | None = None, removing: bool = False,
          run: str = "") -> tuple[_Summary, str | None]:
    """One chunk to reporting, its answer and why an earlier attempt may have applied it (`_ask`). Sending it again
    is safe (the same changes again are `unchanged`), so a busy or failing answer (5xx) or a failed connection is
    asked again a bounded number of times; any other refusal stops the import, naming the chunk, the status and
    reporting's problem detail. The chunks before it stay applied: running the import again completes it. `sent`:
    how many items reporting must answer for (one per change). Each attempt carries the chunk's `Idempotency-Key`
    (of `run`): a reporting that applied a lost attempt answers its outcome again (`Idempotent-Replayed`), exact, so
    nothing is then said to be maybe applied."""
    response, maybe_done = _ask(client, "POST", path, what, sleep, removing=removing, json=body,
                                headers={IDEMPOTENCY_KEY: idempotency_key(run, path, body)})
    if response.headers.get(REPLAYED, "").strip().lower() == "true":
        maybe_done = None  # the first attempt's own answer: what it applied, exactly
    if response.status_code != 200:
        verb, tries = (("did not take", f" ({POST_ATTEMPTS} attempts)") if response.status_code in SOURCE_RETRIED
                       else ("refused", ""))
        # a 500 (or a lost answer) on any attempt may have come after reporting applied the chunk: said so, never
        # as if only the chunks before it were (a 429 or a 4xx refuses before anything is done)
        message = (f"reporting {verb} the {what}: HTTP {response.status_code}{_reporting_said(response)}"
                   f"{tries}{_run_again(removing, maybe_applied=maybe_done is not None)}")
        held_items = _held_items(response) if response.status_code == 409 and not removing else []
        if held_items and sent is not None and all(
                0 <= n < sent and body["items"][n]["data"].get("unit_type") == "school_unit"
                and body["items"][n]["data"].get("school_unit_code") for n in held_items):
            raise HeldElsewhere(message, held_items)
        raise SourceError(message)
    answer = _answered(response, _Summary, what, _run_again(removing, maybe_applied=True))
    if sent is not None and len(answer.items) != sent:
        raise SourceError(f"reporting answered the {what} for {len(answer.items)} items, not {sent}: is "
                          f"{REPORTING_GIVEN.get()} reporting itself?{_run_again(removing, maybe_applied=True)}")
    return answer, maybe_done


def _run_again(removing: bool, *, maybe_applied: bool = False) -> str:
    """What stands after a chunk that stopped the import, and what to do."""
    return (f" ({'it may have been applied, ' if maybe_applied else ''}the chunks before it were applied; "
            f"{'the removals before it too' if removing else 'nothing was removed'}; run the import again to complete "
            "it)")


def _chunk(what: str, start: int, total: int) -> str:
    return f"{what}, items {start + 1}-{min(start + CHUNK, total)} of {total}"


#: the key of a membership in reporting's directory (`membership:<id>`), and the least text after every one of them in
#: any collation (keys are ordered by the first letter first): reporting's listing asked `after` it goes on past the
#: memberships — for an organiser the source has nothing of, most of its holdings, and nothing the run needs of them
MEMBERSHIP_KEY, PAST_MEMBERSHIPS = "membership:", "n"


def held(client: httpx.Client, organiser_id: str, sleep: Callable[[float], None] | None = None
         ) -> list[tuple[str, str]]:
    """What reporting's directory holds for the organiser: (entity key, source id) pairs (asked again while
    reporting is busy or failing, as a chunk is; a reporting nobody answers for is said at once)."""
    return _held(client, organiser_id, sleep)[0]


def held_but_memberships(client: httpx.Client, organiser_id: str, sleep: Callable[[float], None] | None = None
                         ) -> tuple[list[tuple[str, str]], bool]:
    """What reporting holds for the organiser but its memberships, and whether it holds any membership: what a run
    needs of an organiser the source has nothing of (a token's other organisers, read to notice a school moved from one
    and a Huvudman gone from the source). A membership's source id is its group's, held too: a school moved, a group
    deleted, is told by the rest (then the organiser is read whole, `_whole_where_needed`). Round 33: a token for many
    organisers read every one's every membership, every run — one page of `CHUNK` keys each, most of a directory."""
    return _held(client, organiser_id, sleep, skim=True)


def _held(client: httpx.Client, organiser_id: str, sleep: Callable[[float], None] | None = None, *,
          skim: bool = False) -> tuple[list[tuple[str, str]], bool]:
    out: list[tuple[str, str]] = []
    skipped = False
    after: str | None = None
    what = f"request for what it holds for {organiser_id}"
    while True:
        response, _ = _ask(client, "GET", "/v1/directory/held", what, sleep, refused_is_final=True,
                           params={"organiser_id": organiser_id, "limit": CHUNK, **({"after": after} if after else {})})
        if response.status_code != 200:
            mine = ("; a source holding other organisers' units too: --only-organiser for those the token is for"
                    if response.status_code == 403 else "")
            refusal = NotAllowed if response.status_code == 403 else SourceError
            raise refusal(f"reporting did not list what it holds for {organiser_id}: "
                          f"HTTP {response.status_code}{_reporting_said(response)}{mine}")
        body = _answered(response, _Held, what, " (nothing was sent)")
        if len(body.items) != len(body.source_ids):
            raise SourceError(f"reporting answered the {what} with {len(body.items)} entities and "
                              f"{len(body.source_ids)} source ids; is {REPORTING_GIVEN.get()} reporting itself? "
                              "(nothing was sent)")
        page = [(i.entity_key, s or "") for i, s in zip(body.items, body.source_ids, strict=True)]
        if skim:
            skipped = skipped or any(key.startswith(MEMBERSHIP_KEY) for key, _ in page)
            page = [(key, source_id) for key, source_id in page if not key.startswith(MEMBERSHIP_KEY)]
        out += page
        if not body.next_after:
            return out, skipped
        if after is not None and body.next_after <= after:  # keys come in order: a page that goes back loops
            raise SourceError(f"reporting answered the {what} with a page after {body.next_after[:80]!r} again "
                              "(nothing was sent)")
        # (skimming, a page ending among the memberships goes on past them all: at most one page of them is read)
        after = PAST_MEMBERSHIPS if skim and body.next_after.startswith(MEMBERSHIP_KEY) else body.next_after


def _whole_where_needed(client: httpx.Client, the_plan: Plan, deleted: Collection[str],
                        holdings: dict[str, list[tuple[str, str]]], skimmed: set[str],
                        sleep: Callable[[float], None] | None) -> set[str]:
    """Of the organisers read without their memberships (`skimmed`), those the run needs whole read so (in
    `holdings`): one the source has anything of, or holding a source id the run sends, leaves out by design or
    /deletedEntities names (a school moved from it: its memberships are moved too, and its whole counted by the
    mass-removal guard). The rest stay skimmed: returned, said as such (`unlisted_said`)."""
    if not skimmed:
        return set()
    # (what the run sends — a membership's source id is its group's — leaves out by design, or removes by id)
    touched = {c["source_id"] for changes in the_plan.changes.values() for c in changes if c["source_id"]}
    touched |= {r.id.split("/")[0] for r in the_plan.left_out} | set(deleted)
    has = present(the_plan)
    for organiser in sorted(skimmed & set(holdings)):
        if organiser in has or any(source_id in touched for _, source_id in holdings[organiser]):
            holdings[organiser] = held(client, organiser, sleep)
    return {o for o in skimmed if o in holdings and o not in has
            and not any(source_id in touched for _, source_id in holdings[o])}


class NotAllowed(SourceError):
    """Reporting's 403 for what it holds for an organiser: the token is not for it."""


def token_organisers(token: str | None) -> frozenset[str]:
    """The organisers a reporting token is for, by its `organisers` claim (a JWT's, as `styrkedja token` and the
    identity providers issue them), read without checking its signature — reporting checks it; the import only asks
    reporting what it holds for each (`--gone-organiser`: a Huvudman gone from the source is noticed). A token that is
    no JWT, or has no such claim: none (what it is for cannot be told, as before). Each id in its one spelling."""
    try:
        claims = jwt.decode(token or "", options={"verify_signature": False})
    except (jwt.PyJWTError, RecursionError):  # not a JWT (nor base64, UTF-8, JSON, an object)
        return frozenset()
    values = claims.get("organisers") if isinstance(claims, dict) else None
    out = set()
    for value in values if isinstance(values, list) else ():
        try:
            out.add(TypeAdapter(OrganiserId).validate_python(value.strip() if isinstance(value, str) else value))
        except ValidationError:
            continue
    return frozenset(out)


class Sent:
    """The (organiser, entity key) pairs reporting named for what an import sent. A key is asked after (`in`) for what
    reporting held as the import began (`vanished`, `moved`: held and not sent goes) and for a chunk sent again
    (`_honest`: sent by an earlier chunk of this run); a unit's key also to be read again (`moved`'s groups). Those
    are kept as the keys; any other key (a first import's every membership) only as its `hash` within this run,
    enough to tell an earlier chunk's (two keys of one hash would count one `unchanged` of a retried chunk so).
    Iterated: the pairs kept as keys. A set of every pair held a tuple and the key's text a change: a 100 MB
    organiser's first import peaked some 100 MB above its plan while sending."""

    __slots__ = ("_held", "_keys", "_hashes", "_lookup")

    def __init__(self, holdings: dict[str, list[tuple[str, str]]] | None = None) -> None:
        self._held = {organiser: {key for key, _ in pairs} for organiser, pairs in (holdings or {}).items()}
        self._keys: dict[str, set[str]] = {}
        # the other keys' hashes one after another (8 bytes each, no object of their own: small objects kept between
        # the chunks' own kept the allocator's arenas from being given back), a set of them made when first asked
        self._hashes: dict[str, array[int]] = {}
        self._lookup: dict[str, set[int]] | None = None

    def _exact(self, organiser: str, key: str) -> bool:
        return key.startswith("unit:") or key in self._held.get(organiser, ())

    def update(self, pairs: Iterable[tuple[str, str]]) -> None:
        for organiser, key in pairs:
            if self._exact(organiser, key):
                self._keys.setdefault(organiser, set()).add(key)
                continue
            self._hashes.setdefault(organiser, array("q")).append(hash(key))
            if self._lookup is not None:
                self._lookup.setdefault(organiser, set()).add(hash(key))

    def __contains__(self, pair: object) -> bool:
        if not isinstance(pair, tuple) or len(pair) != 2 or not isinstance(pair[1], str):
            return False
        organiser, key = pair
        if self._exact(organiser, key):
            return key in self._keys.get(organiser, ())
        if self._lookup is None:  # asked only of a chunk sent again (`_honest`)
            self._lookup = {o: set(hashes) for o, hashes in self._hashes.items()}
        return hash(key) in self._lookup.get(organiser, ())

    def __iter__(self) -> Iterator[tuple[str, str]]:
        for organiser, keys in self._keys.items():
            for key in keys:
                yield organiser, key

    def __len__(self) -> int:
        """How many were named (a key named twice that is kept as its hash counts twice)."""
        return sum(map(len, self._keys.values())) + sum(map(len, self._hashes.values()))


def send(client: httpx.Client, the_plan: Plan, deleted: list[str], *, removed_at: datetime,
         progress: Progress | None = None, full: bool = False,
         allow_mass_removal: bool = False, sleep: Callable[[float], None] | None = None,
         notes: list[str] | None = None, summary: dict[str, Counter[str]] | None = None,
         retried: list[str] | None = None, said: list[str] | None = None,
         sending: list[str] | None = None, known: dict[str, list[tuple[str, str]]] | None = None,
         gone_organisers: Collection[str] = (), why: dict[str, str] | None = None,
         kept_organisers: list[str] | None = None, skimmed: set[str] | None = None) -> dict[str, Counter[str]]:
    """POST the changes in chunks; the answer's statuses per entity type. `full`: the source is
    whole, so what reporting holds for its organisers and the source lacks is removed. `notes`: what the
    summary says besides the counts (units removed and made new in one place). `summary`: filled as the chunks are
    applied, so that a run stopped on the way can say what it applied before. `retried`: what is said of chunks
    sent again after an attempt that may have applied them (`_honest`). `said`: what an incremental run says of the
    groups it moved (`moved`) and of those reporting holds under school units gone at the source (`stale_groups`).
    `sending`: the chunk whose answer is awaited, while it is (an import interrupted then may have applied it).
    `known`: what reporting holds for an organiser as read while planning (`read_and_plan`'s `held`), not read again —
    and for organisers the source may have nothing of, read because --only-organiser names them or the token is for
    them (`why` says which): what such an organiser still holds is kept, said, and named in `kept_organisers`, unless
    a full run's `gone_organisers` names it — then it is removed whole (the flag names it: no mass-removal guard).
    `skimmed`: of `known`, the organisers read without their memberships (`held_but_memberships`, which holds them
    if it says so): read whole here when the run needs them (`_whole_where_needed`), else only said."""
    summary = {} if summary is None else summary
    retried = [] if retried is None else retried
    sending = [] if sending is None else sending
    run = uuid.uuid4().hex  # salts each chunk's Idempotency-Key: this run's retries are one request, a later run's not
    # of what was created, only units: `replaced` says a unit removed and one made new in one place
    created: set[tuple[str, str]] = set()
    # what reporting holds for the source's organisers, read before anything is sent: a full import removes what the
    # source lacks of it, and a source lacking most of an organiser stops the import with nothing applied (checked
    # again, exactly, once reporting has named every entity sent). An incremental run reads it too: a chunk sent
    # again after an attempt whose answer was lost is counted by it (`_honest`: created when it was not held), as a
    # full run's is, and so are the removals /deletedEntities names (those held then and not now were removed)
    listed = {c["data"]["unit_id"] for c in the_plan.changes.get("organisations", [])
              if c["data"]["unit_type"] == "organiser"}
    # (the run read too the organisers --only-organiser names, or the token is for, though the source may not list
    # them — a Huvudman gone from it: what an incremental run finds the source placed under another is taken from it,
    # `across`; the rest is kept and said, or removed by a full run that --gone-organiser names it for)
    organisers = sorted(listed | set(known or ()))
    holdings = {o: known[o] if known is not None and o in known else held(client, o, sleep) for o in organisers}
    skimmed = _whole_where_needed(client, the_plan, deleted, holdings, skimmed or set(), sleep)
    # (a full run compares what it sends with what the organisers it lists hold, and with all that --gone-organiser's
    # hold; an organiser otherwise read is only said)
    compared = {o: pairs for o, pairs in holdings.items() if o in listed or o in gone_organisers} if full else holdings
    # (of those only said, a full run takes what the source placed under another organiser, as an incremental run
    # does — a school moved from a Huvudman gone from the source: before, it stayed at the old one, and the new one
    # was refused it, `school_unit_code_held`, until an incremental run or its admin moved it)
    others = {o: pairs for o, pairs in holdings.items() if o not in compared}
    if full and others:
        the_plan.crossed = crossed(the_plan, others)
    sent = Sent(holdings)
    held_elsewhere: dict[tuple[str, str], str] = {}  # (organiser, school unit code) → the unit's id, held by another
    if full and not allow_mass_removal:
        check_not_mass_removal([(o, key) for o, key in surely_vanishing(the_plan, compared)
                                if o not in gone_organisers], compared)
    if not allow_mass_removal and the_plan.crossed:
        # what a move to another organiser takes from the old one, at most (`across`), judged as a full run's removals
        # are: a source placing most of an organiser under another Huvudman at once (a glitch, a wrong tree) stops
        # the run with nothing sent, as a full run lacking most of it does
        check_not_mass_removal([(o, key) for o, pairs in sorted(holdings.items()) for key, source_id in pairs
                                if o not in the_plan.crossed.get(source_id, (o,))], holdings)
    for entity, changes in the_plan.changes.items():
        task = progress.add_task(f"send {entity}", total=len(changes)) if progress else None
        counts = summary.setdefault(entity, Counter())
        for start in range(0, len(changes), CHUNK):
            chunk = changes[start:start + CHUNK]
            advance = len(chunk)
            what = _chunk(f"{entity} changes", start, len(changes))
            if held_elsewhere:
                chunk = [c for c in chunk if not _under_held(the_plan, c, held_elsewhere)]
            while chunk:
                sending[:] = [what]
                try:
                    answer, maybe_done = _post(client, "/v1/directory/changes", {"items": chunk}, what, sleep,
                                               sent=len(chunk), run=run)
                except HeldElsewhere as refusal:
                    # school units another organiser's directory holds (a school that changed Huvudman, still in the
                    # old one's directory): refused, with what hangs under them; the rest of the chunk sent again.
                    # Before, the whole chunk was refused and the import stopped there, every run, until the other
                    # organiser removed the school: one school kept a municipality's whole directory out
                    sending.clear()  # (refused whole: nothing of it stored)
                    chunk = _without_held(the_plan, chunk, refusal, held_elsewhere)
                    continue
                sending.clear()
                break
            else:
                if progress is not None and task is not None:
                    progress.update(task, advance=advance)
                continue
            named = [(change["data"]["organiser_id"], item.entity_key)
                     for change, item in zip(chunk, answer.items, strict=True)]
            statuses: list[str] = [item.status for item in answer.items]
            if maybe_done is not None:
                statuses = _honest(named, statuses, sent, holdings, what, maybe_done, retried)
            sent.update(named)
            created |= {n for n, status in zip(named, statuses, strict=True)
                        if status == "created" and n[1].startswith("unit:")}
            counts.update(statuses)
            if progress is not None and task is not None:
                progress.update(task, advance=advance)
    deleted_keys: list[tuple[str, str]] = []  # (no organiser: reporting's answer does not name it, key)
    unrecorded = 0  # what /deletedEntities names that reporting holds of no recorded writer: left (`unrecorded_said`)
    if deleted:
        counts = summary.setdefault("deletedEntities", Counter())
        held_from: dict[str, list[str]] = {}  # a source id → the keys reporting held of it as the import began
        for pairs in holdings.values():
            for key, source_id in pairs:
                held_from.setdefault(source_id, []).append(key)
        for start in range(0, len(deleted), CHUNK):
            what = _chunk("removals", start, len(deleted))
            ids = deleted[start:start + CHUNK]
            sending[:] = [what]
            body, maybe_done = _post(client, "/v1/directory/removals", {
                "source_ids": ids, "removed_at": removed_at.isoformat()}, what, sleep, removing=True, run=run)
            sending.clear()
            removed_now = [i.entity_key for i in body.items if i.status == "removed"]
            if maybe_done is not None:
                # what the lost attempt removed is removed already when asked again: what reporting held of these
                # source ids as the import began, not removed now nor by an earlier chunk, nor sent by this run
                done = {key for _, key in deleted_keys} | set(removed_now) | {key for _, key in sent}
                by_then = [k for k in dict.fromkeys(k for i in ids for k in held_from.get(i, ())) if k not in done]
                removed_now += by_then
                retried.append(f"{what}: reporting answered {maybe_done} and took them when asked again: "
                               f"{len(by_then)} that attempt removed are counted removed (held when the import "
                               f"began, not held now; reporting then removed {body.removed})")
            counts.update({"removed": len(removed_now)})
            deleted_keys += [("", key) for key in removed_now]
            unrecorded += body.unrecorded_writer
        if unrecorded and said is not None:
            said.append(unrecorded_said(unrecorded))
    # a full run removes what the source lacks; an incremental one what a group sent this run left behind where it was
    crossed_out = across(the_plan, sent, others if full else holdings)
    gone = [*vanished(the_plan, sent, compared), *crossed_out] if full else list(dict.fromkeys([
        *moved(sent, holdings), *left_behind(the_plan, sent, holdings), *crossed_out]))
    if full and not allow_mass_removal:
        check_not_mass_removal([(o, key) for o, key in gone if o not in gone_organisers and o in compared], compared)
    if gone:
        task = progress.add_task("remove vanished", total=len(gone)) if progress else None
        for start in range(0, len(gone), CHUNK):
            gone_chunk = gone[start:start + CHUNK]
            what = _chunk("removals", start, len(gone))
            sending[:] = [what]
            body, maybe_done = _post(client, "/v1/directory/removals", {
                "entities": [{"organiser_id": o, "entity_key": k} for o, k in gone_chunk],
                "removed_at": removed_at.isoformat()}, what, sleep, removing=True, run=run)
            sending.clear()
            removed_keys = [item.entity_key for item in body.items if item.status == "removed"]
            if maybe_done is not None:
                # each was held when the import began (`vanished`): one reporting no longer holds to remove now was
                # removed by the attempt whose answer was lost
                by_then = [k for k in dict.fromkeys(k for _, k in gone_chunk) if k not in set(removed_keys)]
                removed_keys += by_then
                retried.append(f"{what}: reporting answered {maybe_done} and took them when asked again: "
                               f"{len(by_then)} that attempt removed are counted removed (held when the import "
                               "began, not held now)")
            for key in removed_keys:
                summary.setdefault(_entity_of(key), Counter())["removed"] += 1
            if progress is not None and task is not None:
                progress.update(task, advance=len(gone_chunk))
    if said is not None:
        said += across_said(crossed_out, holdings, the_plan)
    if not full and said is not None:
        said += moved_said(gone, sent)
        said += stale_groups(the_plan, holdings, {key for _, key in [*deleted_keys, *gone]})
    kept_whole = unlisted_said(present(the_plan), holdings, gone, why or {}, full=full, skimmed=skimmed)
    if said is not None:
        said += [line for _, line in kept_whole]
    if kept_organisers is not None:
        kept_organisers += [organiser for organiser, _ in kept_whole]
    if notes is not None:
        codes = {c["data"]["unit_id"]: c["data"]["school_unit_code"]
                 for c in the_plan.changes.get("organisations", []) if c["data"]["unit_type"] == "school_unit"}
        if full:
            notes += replaced(created, gone, codes)
        if deleted_keys:  # an incremental run: the source's /deletedEntities beside what it made new
            notes += replaced({("", key) for _, key in created}, deleted_keys, codes)
    for refused in the_plan.refused:
        summary.setdefault(refused.entity, Counter())["refused"] += 1
    # what is left out by design (a staff group, a duty above the school units) is no refusal: counted as left out
    for left in [*the_plan.left_out, *the_plan.under_refused]:
        summary.setdefault(left.entity, Counter())["left out"] += 1
    return summary


#: reporting's rule for a school unit whose code another organiser's directory holds (its `writes.CODE_HELD_RULE`)
CODE_HELD = "school_unit_code_held"
HELD_ELSEWHERE = ("schoolUnitCode: reporting's directory holds this school unit under another organiser (a school that "
                  "changed Huvudman?): it is placed under this one once that organiser removed it there")
_HELD_FIELD = re.compile(r"^items\.([0-9]+)\.data\.school_unit_code$")


class HeldElsewhere(SourceError):
    """Reporting's 409 for a chunk holding school units whose codes another organiser's directory holds: which items
    of the chunk (their indexes), besides the message a stop says."""

    def __init__(self, message: str, items: list[int]) -> None:
        super().__init__(message)
        self.items = items


def _held_items(response: httpx.Response) -> list[int]:
    """The chunk's items a 409 names as school units held by another organiser (`CODE_HELD`), if that is all it
    names; else none (the refusal stops the import as any other)."""
    try:
        errors = json.loads(response.content).get("errors") or []
        named = [(e.get("rule"), _HELD_FIELD.match(str(e.get("field", "")))) for e in errors]
    except (ValueError, AttributeError, TypeError):
        return []
    if not named or any(rule != CODE_HELD or found is None for rule, found in named):
        return []
    return sorted({int(found.group(1)) for _, found in named if found is not None})


def _under_held(the_plan: Plan, change: dict[str, Any], held_elsewhere: dict[tuple[str, str], str]) -> bool:
    """Whether `change` hangs under a school unit held by another organiser (its group, a membership, a duty, a
    teaching assignment there): if so it is left out, as under any refused school unit (`under_refused`)."""
    data = change["data"]
    unit = held_elsewhere.get((data["organiser_id"], data.get("school_unit_code") or ""))
    if unit is None or data.get("unit_type") == "school_unit":
        return False
    kind = data.get("unit_type")
    entity, ident = (("groups", data["unit_id"]) if kind == "group" else
                     ("memberships", f"{data['group_id']}/{data['student_id']}") if "membership_id" in data else
                     ("duties", data["duty_id"]) if "duty_id" in data else
                     ("activities", change["source_id"] or data.get("assignment_id", "")) if "assignment_id" in data
                     else ("organisations", change["source_id"] or data.get("unit_id", "")))
    the_plan.under_refused.append(Refused(entity, ident, f"{UNDER_REFUSED} ({unit})"))
    return True


def _without_held(the_plan: Plan, chunk: list[dict[str, Any]], refusal: HeldElsewhere,
                  held_elsewhere: dict[tuple[str, str], str]) -> list[dict[str, Any]]:
    """`chunk` without the school units `refusal` names (refused, their codes kept in `held_elsewhere`) and what
    hangs under them."""
    for n in refusal.items:
        data = chunk[n]["data"]
        unit_id = chunk[n]["source_id"] or data["unit_id"]
        held_elsewhere[(data["organiser_id"], data["school_unit_code"])] = unit_id
        the_plan.refused.append(Refused("organisations", unit_id, HELD_ELSEWHERE))
    named = set(refusal.items)
    return [c for n, c in enumerate(chunk) if n not in named and not _under_held(the_plan, c, held_elsewhere)]


def unrecorded_said(count: int) -> str:
    """What an incremental run says of the entities /deletedEntities names that reporting left: written before it
    recorded who writes what (its migration 0026), they are the organiser admin's to remove, not this token's — a
    full import would not remove them either (reporting lists a platform only what it wrote, `/held`)."""
    return (f"deletedEntities: {count} named were not removed: reporting holds them from before it recorded who wrote "
            "each entity (reporting's migration 0026), and only the organiser admin may remove those — run the import "
            "again with the organiser admin's token (--reporting-token) to remove them")




def _honest(named: list[tuple[str, str]], statuses: list[str], sent: Collection[tuple[str, str]],
            holdings: dict[str, list[tuple[str, str]]] | None, what: str, maybe_done: str, said: list[str]
            ) -> list[str]:
    """The statuses of a chunk sent again after an attempt that may have applied it (a 500 after reporting wrote it):
    reporting compares what is sent with what it holds, so what that attempt wrote comes back `unchanged`. Such an
    item not held when the import began (`holdings`, read by a full run and an incremental one alike), nor sent by
    an earlier chunk, was created by this import; any other is `UNSURE` (this import's change, or none): never
    counted `unchanged`. Said in `said`."""
    at_start = {(o, k) for o, pairs in holdings.items() for k, _ in pairs} if holdings is not None else None
    out = list(statuses)
    for n, (key, status) in enumerate(zip(named, statuses, strict=True)):
        if status == "unchanged" and key not in sent:
            out[n] = "created" if at_start is not None and key not in at_start else UNSURE
    made, unsure = sum(a != b and a == "created" for a, b in zip(out, statuses, strict=True)), out.count(UNSURE)
    if made or unsure:
        said.append(f"{what}: reporting answered {maybe_done} and took them when asked again, answering "
                    f"{made + unsure} `unchanged` that the attempt may have applied: "
                    + ", ".join(part for part in (f"{made} it did not hold when the import began are counted created"
                                                  if made else "",
                                                  f"{unsure} are counted {UNSURE} (changed by that attempt, or "
                                                  "unchanged)" if unsure else "") if part))
    return out


def _explicit_organiser(organiser: str | None, name: str | None) -> tuple[str, str] | None:
    """--organiser and --organiser-name checked as the contracts check an organiser id and a unit's name."""
    if organiser is None:
        if name is not None:
            raise typer.BadParameter("--organiser-name goes with --organiser")
        return None
    try:
        checked = TypeAdapter(OrganiserId).validate_python(organiser.strip())
        OrganisationUnitUpsertedV1.model_validate({  # the name by the contract's own rules
            "unit_type": "organiser", "unit_id": checked, "organiser_id": checked,
            "name": checked if name is None else name,
            "updated_at": datetime.now(UTC)})
    except ValidationError as error:
        first = error.errors()[0]
        flag = "--organiser-name" if first["loc"] and first["loc"][0] == "name" else "--organiser"
        raise typer.BadParameter(f"{flag}: {first['msg']}") from None
    return checked, checked if name is None else name


def _only_organisers(values: list[str] | None, flag: str = "--only-organiser") -> frozenset[str] | None:
    """--only-organiser's (or `flag`'s) ids, each checked as the contracts check an organiser id and in its one
    spelling (a source's 2120001234 is the organiser 212000-1234)."""
    if not values:
        return None
    out = set()
    for value in values:
        try:
            out.add(TypeAdapter(OrganiserId).validate_python(value.strip()))
        except ValidationError as error:
            raise typer.BadParameter(f"{flag}: {error.errors()[0]['msg']}") from None
    return frozenset(out)


def _checked_url(flag: str, value: str) -> str:
    """An http(s) URL with a host and a port that can be: anything else was asked again six times, 31 s, as if a
    server were busy ("http://", a port of 99999), or ended in a traceback ("http://[::1")."""
    try:
        url = URL(value.strip())
    except InvalidURL as error:
        said = redact_personal_identity_numbers(str(error)[:80])[0]
        raise typer.BadParameter(f"{flag}: not a URL ({said})") from None
    if url.scheme not in ("http", "https") or not url.host or " " in value.strip() or "%20" in url.host:
        raise typer.BadParameter(f"{flag}: an http:// or https:// URL with a host, e.g. https://ss12000.example/v2")
    if url.port is not None and not 0 < url.port < 65536:
        raise typer.BadParameter(f"{flag}: port {url.port} is not 1 to 65535")
    return value.strip()


#: what a bearer token is made of as it goes in an HTTP header: visible ASCII (RFC 6750's b64token is a part of it;
#: servers issue others, e.g. JWTs, all of it)
_TOKEN = re.compile(r"^[!-~]+$")


def _checked_token(flag: str, value: str | None) -> str | None:
    """A bearer token as given, with what comes along by mistake taken off: blanks and a line end around it (read
    from a file, `$(cat token)` keeps none but an environment file does) and a leading "Bearer " (copied with the
    header it came in): sent as they were, the server answered 401 (or a newline broke the request). A token with
    any other character (a blank inside it, a letter outside ASCII) cannot go in a header: usage, never quoted
    (it was a UnicodeEncodeError, "a fault of the importer's"). Empty or blank: none, as before (an environment
    variable set empty)."""
    if value is None or not value.strip():
        return None
    token = value.strip()
    if token[:7].casefold() == "bearer " and token[7:].strip():
        token = token[7:].strip()
    if not _TOKEN.match(token):
        raise typer.BadParameter(f"{flag}: must be the token alone, in visible ASCII characters (it goes in an HTTP "
                                 "Authorization header); this one holds a blank, a control character or "
                                 "a character outside ASCII")
    return token


def plain(text: str) -> str:
    """What the source, a server or reporting said, for the console: its markup escaped — a server's message holding
    "[/x]" was a MarkupError, raised from the handler of every other error as a traceback, and "[link=…]" made a
    hyperlink of the terminal's — and a personal identity number in it redacted (notes quote servers' errors)."""
    return escape(redact_personal_identity_numbers(text)[0])


def _client_credentials(url: str | None, token: str | None, token_url: str | None, client_id: str | None,
                        client_secret: str | None, scope: str | None, timeout: float) -> ClientCredentials | None:
    """--token-url with --client-id and --client-secret, checked as usage: with a server, instead of --token."""
    if token_url is None:
        if client_id is not None or client_secret is not None or scope is not None:
            raise typer.BadParameter("--client-id, --client-secret and --scope go with --token-url")
        return None
    if url is None:
        raise typer.BadParameter("--token-url goes with --url")
    if token is not None:
        raise typer.BadParameter("give --token or --token-url, not both")
    if not client_id or not client_secret:
        raise typer.BadParameter("--token-url needs --client-id and --client-secret (or STYRKEDJA_SS12000_CLIENT_ID, "
                                 "STYRKEDJA_SS12000_CLIENT_SECRET)")
    checked = _checked_url("--token-url", token_url)
    endpoint = URL(checked)
    if endpoint.scheme != "https" and endpoint.host not in ("localhost", "127.0.0.1", "::1"):
        raise typer.BadParameter("--token-url: https (the client secret goes there), but for localhost")
    return ClientCredentials(checked, client_id, client_secret, scope=scope, timeout=timeout)


def register(import_app: typer.Typer) -> None:
    @import_app.command("ss12000")
    def ss12000(
        ctx: typer.Context,
        url: str | None = typer.Option(None, help="base URL of an SS 12000 v2 API"),
        token: str | None = typer.Option(None, help="bearer token for the SS 12000 API",
                                         envvar="STYRKEDJA_SS12000_TOKEN"),
        dir: Path | None = typer.Option(None, "--dir", help="a folder of SS 12000 JSON files instead of an API"),
        reporting_url: str = typer.Option("http://127.0.0.1:8104", envvar="STYRKEDJA_REPORTING_URL",
                                          help="the reporting service that keeps the directory"),
        reporting_token: str | None = typer.Option(None, envvar="STYRKEDJA_REPORTING_TOKEN",
                                                   help="bearer token for reporting: a platform client's for the "
                                                        "organisers in the source (`styrkedja token --role platform "
                                                        "--organiser ID`)"),
        since: datetime | None = typer.Option(None, help="incremental: only what changed after this time "
                                                         "(meta.modified.after), and apply /deletedEntities"),
        page_size: int = typer.Option(100, min=1, max=PAGE_SIZE_MAX, help="items per page asked of the API"),
        max_page_mib: int = typer.Option(
            256, min=1, max=MAX_PAGE_MIB,
            help="the largest page (or --dir file) read, in MiB: a server ignoring --page-size may answer a whole list "
                 "in one page; a server's page is held in memory while it is parsed, never written to a file (any "
                 f"page may carry a civic number); 1 to {MAX_PAGE_MIB}"),
        page_seconds: float = typer.Option(
            600.0, min=PAGE_SECONDS[0], max=PAGE_SECONDS[1],
            help="the longest one page may take to arrive, in seconds (a server trickling a byte a minute is "
                 "stopped); 1 to 86400"),
        max_pages: int = typer.Option(
            100_000, min=MAX_PAGES[0], max=MAX_PAGES[1],
            help="the most pages read of one entity (a server inventing page tokens for ever is stopped); "
                 "1 to 10000000"),
        max_empty_pages: int = typer.Option(
            MAX_EMPTY_PAGES, min=MAX_PAGES[0], max=MAX_PAGES[1],
            help="the most pages in a row without a new item while the server still gives a next pageToken (a "
                 "server paging without progress is stopped); 1 to 10000000"),
        reporting_answer_seconds: float = typer.Option(
            REPORTING_ANSWER_SECONDS, min=PAGE_SECONDS[0], max=PAGE_SECONDS[1],
            help="the longest one answer of reporting may take to arrive whole, in seconds (one trickling a byte a "
                 "minute, a proxy's or a stub's, is stopped); 1 to 86400"),
        naive_timezone: str = typer.Option("Europe/Stockholm", help="zone of source timestamps without one"),
        allow_mass_removal: bool = typer.Option(False, help="a full import may remove more than half of what "
                                                           "reporting holds for an organiser"),
        organiser: str | None = typer.Option(
            None, help="the organiser (municipality code or organisation number) of a source that has no Huvudman, "
                       "as Skolverket's reference API; refused when the source has one"),
        organiser_name: str | None = typer.Option(None, help="the name of --organiser in the directory "
                                                             "(default: its id)"),
        only_organiser: list[str] | None = typer.Option(
            None, "--only-organiser",
            help="import only this organiser's units (municipality code or organisation number; repeat for more): "
                 "a source holding other organisers' school units too (an independent school's), which the "
                 "--reporting-token may not write; theirs are counted and said, nothing of them sent or removed (what "
                 "of theirs was refused is counted with them, not by --strict)"),
        gone_organiser: list[str] | None = typer.Option(
            None, "--gone-organiser",
            help="a full run removes all reporting holds for this organiser, which the source has nothing of any "
                 "longer (a Huvudman gone from it; repeat for more): without it such an organiser (one "
                 "--only-organiser names, or the --reporting-token is for) is kept and said, and --strict exits "
                 f"{STRICT_EXIT}"),
        strict: bool = typer.Option(True, "--strict/--lenient",
                                    help=f"--strict (the default): exit {STRICT_EXIT} (after importing the rest) when "
                                         "any item was refused or left out under a refused unit, for a scheduled job "
                                         "to notice (staff groups, left out by design, do not count); --lenient: "
                                         "exit 0 then"),
        timeout: float = typer.Option(60.0, min=1.0, max=3600.0,
                                      help="seconds the server may take to connect, or to send the next bytes of an "
                                           "answer, before the page is asked again; 1 to 3600"),
        token_url: str | None = typer.Option(None, help="OAuth 2.0 token endpoint: a token by the client credentials "
                                                        "grant instead of --token, renewed as it expires"),
        client_id: str | None = typer.Option(None, envvar="STYRKEDJA_SS12000_CLIENT_ID",
                                             help="the client id for --token-url"),
        client_secret: str | None = typer.Option(None, envvar="STYRKEDJA_SS12000_CLIENT_SECRET",
                                                 help="the client secret for --token-url (better from the "
                                                      "environment than the command line)"),
        scope: str | None = typer.Option(None, help="the scope asked of --token-url, if the server wants one"),
    ) -> None:
        """Import organisations, groups and memberships, duties and activities from SS 12000.

        Exit codes: 0 imported, everything; 1 stopped (nothing sent when the source could not be read whole; what
        was applied before a stop while sending is said); 2 usage; 3 imported the rest, but items were refused or
        left out (each listed; --lenient: 0). The rules for files and servers: docs/import.md."""
        console = Console(stderr=True)
        show_traceback = switch_setting("STYRKEDJA_TRACEBACK")  # read before anything: a bad value is said at once
        if (url is None) == (dir is None):
            raise typer.BadParameter("give exactly one of --url or --dir")
        if url is not None:
            url = _checked_url("--url", url)
        # each value named as the user gave it: the option, or the variable it came from
        reporting_given = given_as(ctx, "reporting_url", "--reporting-url")
        reporting_url = _checked_url(reporting_given, reporting_url)
        try:
            zone = ZoneInfo(naive_timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise typer.BadParameter(f"unknown time zone {naive_timezone!r}") from None
        if since is not None and since.tzinfo is None:
            since = earliest_instant(since, zone)
        explicit = _explicit_organiser(organiser, organiser_name)
        only = _only_organisers(only_organiser)
        gone = _only_organisers(gone_organiser, "--gone-organiser") or frozenset()
        if gone and since is not None:
            raise typer.BadParameter("--gone-organiser goes with a full run (without --since): an incremental run "
                                     "removes only what the source names")
        token = _checked_token(given_as(ctx, "token", "--token"), token)
        reporting_token = _checked_token(given_as(ctx, "reporting_token", "--reporting-token"), reporting_token)
        auth = _client_credentials(url, token, token_url, client_id, client_secret, scope, timeout)
        # the organisers read though the source may have nothing of them: those --only-organiser names, else those the
        # token is for (its claim), and --gone-organiser's — a Huvudman gone from the source is noticed so
        why = {**dict.fromkeys(token_organisers(reporting_token) if only is None else (), "the --reporting-token's"),
               **dict.fromkeys(only or (), "--only-organiser"), **dict.fromkeys(gone, "--gone-organiser")}
        kept_organisers: list[str] = []  # of those, the ones the source has nothing of, kept (`moves.unlisted_said`)
        # Reporting first, before the source is read (minutes, for a server): one that accepts and says nothing was
        # found only when sending, after 6 attempts of 120 s. Now a silence of STYRKEDJA_CONNECT_TIMEOUT_SECONDS is
        # one line naming it and its option (`main`); a refusal is the first request's own at-once stop.
        asyncio.run(reach_http(http_peer("reporting", reporting_url, reporting_given),
                               reporting_url, connect_seconds(), refused_is_said_later=True))
        summary: dict[str, Counter[str]] = {}
        retried: list[str] = []  # chunks sent again after an attempt that may have applied them
        said: list[str] = []  # what an incremental run moved and what it holds under units gone at the source
        sending: list[str] = []  # the chunk whose answer was awaited when the import stopped, if any
        # each pause before asking reporting again is said as it starts (reset after: the next command's own)
        retry_said = ON_RETRY.set(lambda why, seconds: console.print(plain(f"{why}; asking again in {seconds:.0f} s")))
        given_said = REPORTING_GIVEN.set(reporting_given)
        try:
            def busy(what: str, seconds: float) -> None:  # `what` says why: "HTTP 503", "ConnectError"
                console.print(f"{plain(what)}; asking again in {seconds:.0f} s")

            largest = max_page_mib * 1024 * 1024
            source = (HttpSource(url, token, page_size=page_size, page_seconds=page_seconds, max_pages=max_pages,
                                 max_empty_pages=max_empty_pages, on_retry=busy, timeout=timeout, auth=auth,
                                 on_note=lambda text: console.print(plain(text)), max_page_bytes=largest) if url
                      else FolderSource(dir, max_page_bytes=largest))  # type: ignore[arg-type]
            columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
            headers = {"Authorization": f"Bearer {reporting_token}"} if reporting_token else {}
            with (_Progress(*columns, console=console) as progress,
                  reporting_client(reporting_url, headers, reporting_answer_seconds) as client):
                known: dict[str, list[tuple[str, str]]] = {}

                not_read: set[str] = set()  # organisers `why` names that reporting refused to list (403)
                skimmed: set[str] = set()  # of `known`, those read without their memberships (`held_but_memberships`)

                def holding(organisers: list[str], whole: Collection[str] = ()) -> dict[str, list[tuple[str, str]]]:
                    # read once, for `send` too (a large organiser's holdings are a long listing); only the organisers
                    # the run sends (--only-organiser: another's is not the token's to read) — and those `why` names
                    # that the source may list no longer (a Huvudman gone from it: a school moved away from it is
                    # noticed, `crossed`, and what it holds besides said or removed, `unlisted_said`). Those the run
                    # sends, `whole` (the organisers the source has) and --gone-organiser's are read whole; the rest
                    # but their memberships, which the run needs only when it touches them (`send`)
                    wanted = [*organisers, *sorted(set(why) - set(organisers))]
                    for o in wanted:
                        if (only is None or o in only or o in gone) and o not in known and o not in not_read:
                            try:
                                if o in organisers or o in whole or o in gone:
                                    known[o] = held(client, o)
                                else:  # (one the source may have nothing of: what the run needs of it, `send`)
                                    known[o], skipped = held_but_memberships(client, o)
                                    if skipped:
                                        skimmed.add(o)
                            except NotAllowed as refusal:
                                if o in organisers or why.get(o) == "--gone-organiser":
                                    raise
                                # (one only read in case the source has nothing of it any longer, which the token may
                                # not list — a typing error in --only-organiser: said, nothing of it compared)
                                not_read.add(o)
                                console.print(plain(f"organiser {o} ({why[o]}): {refusal}; not compared with the "
                                                    "source"))
                    return {o: known[o] for o in wanted if o in known}

                the_plan, deleted = read_and_plan(source, since=since, naive_zone=zone, progress=progress,
                                                  organiser=explicit, held=holding if since is not None else None)
                if only is not None:
                    keep_organisers(the_plan, only)
                    for line in _only_said(the_plan, only):
                        console.print(plain(line))
                if gone & present(the_plan):
                    raise SourceError(f"--gone-organiser {', '.join(sorted(gone & present(the_plan)))}: the source "
                                      "has it still: nothing removed (nothing was sent)")
                if since is None:
                    holding([], whole=present(the_plan))  # (an incremental run read them while planning)
                for entity, status in sorted(source.held_back.items()):
                    how = f"not served (HTTP {status})" if isinstance(status, int) else status
                    console.print(f"{entity}: {how}; imported without them: {LACKING[entity]}")
                notes: list[str] = []
                send(client, the_plan, deleted, removed_at=datetime.now(UTC), progress=progress,
                     full=since is None, allow_mass_removal=allow_mass_removal, notes=notes, summary=summary,
                     retried=retried, said=said, sending=sending, known=known, gone_organisers=gone, why=why,
                     kept_organisers=kept_organisers, skimmed=skimmed)
        except (typer.Exit, typer.Abort, typer.BadParameter):
            raise
        except (Exception, KeyboardInterrupt) as error:
            if isinstance(error, (SourceError, httpx.HTTPError)):
                # (a server's or reporting's error may echo a token it was given: never said)
                kept = without_secrets(str(error), [token or "", client_secret or "", reporting_token or "",
                                                    *(auth.tokens if auth is not None else ())])
                console.print(f"[red]import stopped:[/red] {plain(kept)}")
            elif isinstance(error, KeyboardInterrupt):
                console.print("[red]import interrupted[/red]")
            else:
                # a fault of the importer's own, not of the source: one line for the user (a traceback says nothing
                # to them, and may quote the source's data), the traceback itself with STYRKEDJA_TRACEBACK=1
                if show_traceback:
                    raise
                message = redact_personal_identity_numbers(one_line(str(error))[:200])[0]
                console.print(f"[red]import stopped:[/red] the importer failed ({type(error).__name__}"
                              f"{': ' + escape(message) if message else ''}): a fault of the importer's, please report it "
                              "(STYRKEDJA_TRACEBACK=1 shows where)")
            if any(sum(counts.values()) for counts in summary.values()):  # stopped while sending: nothing unsaid
                Console().print(_table(summary, "applied before the import stopped"))
                for line in retried:
                    console.print(plain(line))
            elif not sending:
                console.print("nothing was sent to reporting")
            if sending and not isinstance(error, SourceError):  # (a SourceError of a chunk names it, and this)
                # interrupted (Ctrl-C, a job's timeout) or failed while reporting had the chunk: it may have applied it
                console.print(plain(f"{sending[0]}: sent, its answer not read before the import stopped: it may "
                                    "have been applied (not counted); run the import again to complete it"))
            raise typer.Exit(130 if isinstance(error, KeyboardInterrupt) else 1) from None
        finally:
            ON_RETRY.reset(retry_said)
            REPORTING_GIVEN.reset(given_said)
        Console().print(_table(summary, "SS 12000 import"))
        for line in retried:
            console.print(plain(line))
        for line in _refused_said(the_plan, only=only is not None):
            console.print(plain(line))
        for line in _by_design(the_plan):
            console.print(plain(line))
        for line in [*(redact_personal_identity_numbers(line)[0] for line in said),  # they quote ids, as `_said`'s
                     *_said(the_plan, notes, incremental=since is not None, only=only is not None)]:
            console.print(plain(line))
        # what is left out by design (`left_out`: staff groups, their activities, duties above the school units) is
        # no fault of the source's: no reason to fail a job
        if the_plan.refused or the_plan.under_refused or kept_organisers:
            counted = f"{len(the_plan.refused)} refused, {len(the_plan.under_refused)} left out" + (
                f", {len(kept_organisers)} organisers the source has nothing of kept" if kept_organisers else "")
            if strict:
                console.print(f"--strict: {counted} (exit {STRICT_EXIT}; --lenient exits 0)")
                raise typer.Exit(STRICT_EXIT)
            console.print(f"--lenient: {counted} (exit 0)")
