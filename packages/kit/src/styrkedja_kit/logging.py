"""JSON logs on stdout. Log event ids, counts and rule names, never student data: no request
bodies, no statement parameters (the engines hide them), and as a last guard every record's
message and fields pass through the personnummer redaction."""

from __future__ import annotations

import logging
import sys
import traceback
from types import TracebackType
from urllib.parse import unquote_plus

from pythonjsonlogger.json import JsonFormatter

from styrkedja_contracts.identifiers import redact_personal_identity_numbers

# the attributes every LogRecord has; anything else on a record came from `extra=`
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


# Exceptions of these packages quote the data they failed on (asyncpg: "invalid input for query
# argument $1: '…'", pydantic: input_value=…): their messages never reach a log.
_DATA_CARRYING = frozenset({"sqlalchemy", "asyncpg", "pydantic", "pydantic_core"})

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def safe_exception_text(exc_info: ExcInfo) -> str:
    """The traceback of an exception (and its causes) with the messages of data-carrying
    exceptions withheld and personnummer redacted from the rest."""
    chain: list[BaseException] = []
    error: BaseException | None = exc_info[1]
    while error is not None and all(error is not seen for seen in chain):
        chain.append(error)
        error = error.__cause__ or error.__context__
    lines: list[str] = []
    for error in reversed(chain):
        if lines:
            lines.append("\nDuring handling of the above exception, another exception occurred:\n\n")
        lines.append("Traceback (most recent call last):\n")
        lines.extend(traceback.format_tb(error.__traceback__))
        kind = type(error)
        name = f"{kind.__module__}.{kind.__qualname__}"
        if kind.__module__.split(".")[0] in _DATA_CARRYING:
            lines.append(f"{name}: (message withheld: it may quote data)\n")
        else:
            lines.append(f"{name}: {redact_personal_identity_numbers(str(error))[0]}\n")
    return "".join(lines).rstrip("\n")


class RedactingFilter(logging.Filter):
    """Replace anything that looks like a personnummer (any spelling) in a record's message and
    its `extra` fields (an access log line carries the query string); withhold the messages of
    exceptions that quote data (see `safe_exception_text`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:  # one by one: a formatter may unpack them
            record.args = tuple(_redacted_argument(arg) for arg in record.args)
        message = record.getMessage()
        redacted, count = redact_personal_identity_numbers(message)
        if count:
            record.msg, record.args = redacted, None
        for name, value in list(vars(record).items()):
            if name not in _STANDARD and isinstance(value, str):
                redacted, count = redact_personal_identity_numbers(value)
                if count:
                    setattr(record, name, redacted)
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = safe_exception_text(record.exc_info)
            record.exc_info = None
        return True


def _redacted_argument(value: object) -> object:
    """An argument of a log call without personnummer: a URL's path and query (uvicorn's access
    line) are looked at percent-decoded too, so `19121212%2D1212` is found like `19121212-1212`."""
    if not isinstance(value, str) or len(value) < 10:
        return value
    redacted, count = redact_personal_identity_numbers(value)
    if count:
        return redacted
    if "%" in value or "+" in value:
        redacted, count = redact_personal_identity_numbers(unquote_plus(value))
        if count:
            return redacted
    return value


#: the server's own loggers log to handlers of their own (uvicorn's access line names the path and
#: query string): the redaction is put on them too, whatever handlers they write to
SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def configure_logging(service_name: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s",
                                       rename_fields={"asctime": "time", "levelname": "level"},
                                       static_fields={"service": service_name}))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in SERVER_LOGGERS:
        server_logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in server_logger.filters):
            server_logger.addFilter(RedactingFilter())
    for noisy in ("aiokafka", "aiokafka.consumer.group_coordinator"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
