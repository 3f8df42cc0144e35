"""JSON logs on stdout. Log event ids, counts and rule names, never student data: no request
bodies, no statement parameters (the engines hide them), and as a last guard every record's
message and fields pass through the personnummer redaction."""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

from styrkedja_contracts.identifiers import redact_personal_identity_numbers

# the attributes every LogRecord has; anything else on a record came from `extra=`
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class RedactingFilter(logging.Filter):
    """Replace anything that looks like a personnummer (any spelling) in a record's message,
    its `extra` fields and its exception text (an access log line carries the query string)."""

    def filter(self, record: logging.LogRecord) -> bool:
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
            text = logging.Formatter().formatException(record.exc_info)
            redacted, count = redact_personal_identity_numbers(text)
            if count:
                record.exc_info, record.exc_text = None, redacted
        return True


def configure_logging(service_name: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s",
                                       rename_fields={"asctime": "time", "levelname": "level"},
                                       static_fields={"service": service_name}))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "aiokafka.consumer.group_coordinator"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
