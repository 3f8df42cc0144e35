"""A connection's TLS failure, said as one: httpx names it a ConnectError (its `ssl.SSLError` a cause), which the
importer asked again as a network's passing fault — six times, some 30 s of pauses — and then said as "ConnectError",
nothing of a certificate. The same certificate and the same protocol fail alike the next time."""

from __future__ import annotations

import ssl

#: a certificate the server's chain does not lead to from the trusted CAs (self-signed, the organiser's own CA,
#: expired, another host's name)
UNTRUSTED = ("TLS: the server's certificate is not accepted ({why}); not asked again. A certificate of the "
             "organiser's own CA is trusted by naming its CA bundle in SSL_CERT_FILE")
#: any other failure of the handshake: most often a port that speaks plain HTTP
FAILED = ("TLS: no secure connection could be made ({why}); not asked again. Does the server speak https on this "
          "port (http:// in the URL if it does not)?")
#: how much of the ssl module's words are said
SAID = 200


def tls_fault(error: BaseException) -> str:
    """What `error` says when TLS failed (an `ssl.SSLError` among its causes), on one line; else ""."""
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, ssl.SSLCertVerificationError):
            why = getattr(cause, "verify_message", None) or getattr(cause, "reason", None) or str(cause)
            return UNTRUSTED.format(why=_one_line(str(why)))
        if isinstance(cause, ssl.SSLError):
            return FAILED.format(why=_one_line(str(getattr(cause, "reason", None) or cause)))
        cause = cause.__cause__ or cause.__context__
    return ""


def _one_line(text: str) -> str:
    return "".join(c if c.isprintable() else " " for c in text)[:SAID]
