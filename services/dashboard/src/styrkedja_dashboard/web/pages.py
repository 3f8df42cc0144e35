"""What every page needs: the signed-in session, the API clients with its token, templates."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from styrkedja_contracts.identifiers import canonical_organiser_id
from styrkedja_contracts.subjects import subject_name

from .. import formats, shapes
from ..chain.view import LEVEL_NAMES
from ..clients import Lika, Reporting
from ..figures import BANDS
from .sessions import Session, SessionStore


def _subject(code: object) -> str:
    """A subject's name; a code that is no text (a list, a number from another version of a service) as sent."""
    return subject_name(code) if isinstance(code, str) else shapes.flat(code)


def _printed(value: Any) -> Any:
    """What `{{ … }}` prints, the one rule for every template: a service's list or object reads as `a; b`
    (`shapes.flat`), never Python's `['a', 'b']`; null as nothing, never `None`; text without bidirectional
    controls (`shapes.shown`)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return shapes.shown(value)
    return shapes.shown(shapes.flat(value)) if isinstance(value, (list, tuple, dict)) else value


templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))
templates.env.finalize = _printed  # read when a template is compiled: set before any page renders
templates.env.filters.update(share=formats.share, number=formats.number, day=formats.day, level=formats.level,
                             subject=_subject, reason=formats.reason_text, points=formats.points,
                             column_of=lambda key, table: table.column(key), named=shapes.named,
                             texts=shapes.texts, size=shapes.size, flat=shapes.flat)
templates.env.globals.update(LEVEL_NAMES=LEVEL_NAMES, BANDS=BANDS)

ROLE_NAMES = {"teacher": "lärare", "principal": "rektor", "area_manager": "verksamhetschef",
              "organiser_admin": "huvudmannens administratör", "politician": "politiker", "public": "allmänheten",
              "platform": "plattform", "ops": "drift"}
templates.env.globals.update(ROLE_NAMES=ROLE_NAMES)


#: the longest place to come back to after sign-in that `/logga-in` takes
MAX_NEXT = 500


class NotSignedIn(Exception):
    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


def store(request: Request) -> SessionStore:
    return request.app.state.sessions


def signed_in(request: Request) -> Session:
    session = store(request).get(request)
    if session is None or not session.signed_in:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method not in ("GET", "HEAD"):
            # a form post's address is no page to come back to (a GET of `/larm/{id}/kvittera` is a 405): the
            # section the form was on is. A session's token lasts minutes at some providers, so an acknowledgement
            # typed over a few minutes came back from sign-in to a 405 page
            target = "/" + request.url.path.split("/")[1]
        if len(target) > MAX_NEXT:
            # `/logga-in` takes a `next` of at most MAX_NEXT characters (a 422 beyond): a page reached with a long
            # query (a link's tracking parameters, a shared download link) sent its visitor to a sign-in that
            # refused them. The page itself is still worth coming back to
            target = request.url.path if len(request.url.path) <= MAX_NEXT else "/kedjan"
        raise NotSignedIn(target)
    return session


Current = Annotated[Session, Depends(signed_in)]


def reporting(request: Request, session: Current) -> Reporting:
    s = request.app.state
    api = Reporting(s.http, "reporting", s.settings.reporting_url, session.token or "")
    api.names = s.names_cache.for_session(session.id)  # the directory's names, kept for this session only
    return api


def lika(request: Request, session: Current) -> Lika:
    s = request.app.state
    return Lika(s.http, "lika", s.settings.lika_url, session.token or "")


def render(request: Request, name: str, session: Session | None, status_code: int = 200, **context: Any) -> Response:
    return templates.TemplateResponse(request, name, {"session": session, "principal": session.principal
                                                      if session else None, **context}, status_code=status_code)


def login_url(next_url: str) -> str:
    return "/logga-in?next=" + quote(next_url, safe="")


def organisers_of(session: Session) -> list[str]:
    """The token's organisers, in order (the first is the pages' default)."""
    return sorted(session.principal.organisers) if session.principal else []


def organiser_of(session: Session, chosen: str | None) -> str:
    """The organiser a page is about: a choice among the token's organisers, else the first (the
    service checks scope again on every read). Every page's rule (the chain's, LIKA's, the reports')."""
    from fastapi import HTTPException

    organisers = organisers_of(session)
    if chosen:
        chosen = canonical_organiser_id(chosen)  # `?huvudman=2120001234` is the token's 212000-1234
        if chosen not in organisers:
            raise HTTPException(403, "Du har inte behörighet till den huvudmannen.")
        return chosen
    if not organisers:
        raise HTTPException(403, "Din inloggning saknar huvudman.")
    return organisers[0]
