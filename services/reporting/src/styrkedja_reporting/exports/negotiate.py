"""Which format a request wants: `format=` wins over the `Accept` header. An unknown `format=`
value is a 422 naming the field; an `Accept` header that admits none of the formats is a 406, one with a
weight that is not an RFC 9110 qvalue a 400."""

from __future__ import annotations

import re
from enum import StrEnum

from styrkedja_kit.problems import Problem, field_error
from styrkedja_kit.rules import RuleViolation


class ExportFormat(StrEnum):
    json = "json"
    csv = "csv"
    xlsx = "xlsx"


MEDIA_TYPES = {
    ExportFormat.json: "application/json",
    ExportFormat.csv: "text/csv; charset=utf-8",
    ExportFormat.xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_BY_MEDIA_TYPE = {media.split(";")[0]: fmt for fmt, media in MEDIA_TYPES.items()}
ALIASES = {"excel": ExportFormat.xlsx}


#: RFC 9110 §12.4.2: `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`
_QVALUE = re.compile(r"(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)")


def _bad_weight(value: str) -> Problem:
    return Problem(400, "Bad request", f"the Accept header's weight q={value[:20]!r} is not a qvalue",
                   [field_error("Accept", "qvalue", "q must be a number from 0 to 1 with at most three decimals "
                                                    "(RFC 9110 §12.4.2)")])


def _accepted(accept: str) -> list[tuple[float, int, str]]:
    """(q, -position, media range) per element of an Accept header. A weight that is not an RFC 9110
    qvalue (`NaN`, `inf`, `-1`, `1.0001`, `0.5e0`, two of them) is a 400 naming the header and the rule:
    read leniently (`float`), `q=NaN` or `q=1.0001` outranked every well-formed weight."""
    ranges = []
    for position, element in enumerate(accept.split(",")):
        media, *params = [part.strip() for part in element.split(";")]
        if not media:
            continue
        q: float | None = None
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                value = value.strip()
                if q is not None or not _QVALUE.fullmatch(value):
                    raise _bad_weight(value)
                q = float(value)
        ranges.append((1.0 if q is None else q, -position, media.lower()))
    return ranges


def _matches(media_range: str, media_type: str) -> bool:
    kind, _, sub = media_range.partition("/")
    want_kind, _, want_sub = media_type.partition("/")
    return (kind == "*" or kind == want_kind) and (sub == "*" or sub == want_sub)


def choose_format(format_param: str | None, accept: str | None) -> ExportFormat:
    if format_param is not None:
        name = format_param.strip().lower()
        chosen = ALIASES.get(name) or (ExportFormat(name) if name in ExportFormat.__members__ else None)
        if chosen is None:
            raise RuleViolation("format", "export_format",
                                f"unknown format {format_param!r}; use one of {', '.join(ExportFormat)}")
        return chosen
    if not accept or not accept.strip():
        return ExportFormat.json
    # the most preferred range (highest q, then first listed) that one of our formats matches;
    # within a wildcard, JSON first (the API's own format)
    for q, _, media_range in sorted(_accepted(accept), reverse=True):
        if q <= 0:
            continue
        for media_type, fmt in _BY_MEDIA_TYPE.items():
            if _matches(media_range, media_type):
                return fmt
    raise Problem(406, "Not acceptable", f"cannot answer in any of the accepted types ({accept[:200]})",
                  [field_error("Accept", "export_format",
                               f"accept one of {', '.join(m.split(';')[0] for m in MEDIA_TYPES.values())}")])
