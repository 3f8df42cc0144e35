"""First contact of an ops command (migrate, replay, topics, `rebuild reporting`) with the database or the broker:
one rule for every command that opens either. Before its work a command asks `reach_database` / `reach_broker`; a
peer that refuses, cannot be found or never answers (a TCP listener that accepts and says nothing, a blackholed
port) stops it with `Unanswered`, whose one line says what did not answer, at which host:port, after how many
seconds, and which variable sets the address. Before this, a silent database was asyncpg's bare "TimeoutError:"
after 60 s, a silent broker aiokafka's "Unable to bootstrap" after 40 s, each command wording it its own way. The
`styrkedja` commands that talk HTTP (demo, import ss12000) say a silent service or SS 12000 server with the same
`Peer` (styrkedja_cli.reach): the option that sets its address instead of a variable."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from .settings import ServiceSettings

#: the variable that bounds the wait (ServiceSettings.connect_timeout_seconds)
TIMEOUT_VARIABLE = "STYRKEDJA_CONNECT_TIMEOUT_SECONDS"


class Unanswered(Exception):
    """The database or the broker did not answer an ops command's first contact: its message is the one line to
    show (no traceback), and nothing was changed."""


@dataclass(frozen=True)
class Peer:
    what: str  # "the database", "the broker"
    address: str  # host:port as the command used it (no password)
    variable: str  # the variable that sets the address

    def timed_out(self, seconds: float, *, bound_by: str | None = TIMEOUT_VARIABLE, detail: str = "",
                  outcome: str | None = "nothing was changed") -> Unanswered:
        """The one line for a peer that kept silent `seconds`: `bound_by` names what sets that wait (the variable, a
        command's option such as --timeout; None for a fixed one), `detail` adds to it (", ReadTimeout, 6
        attempts"), `outcome` says what was left (None: the caller says it)."""
        wait = f" ({bound_by}{detail})" if bound_by else (f" ({detail.lstrip(', ')})" if detail else "")
        return Unanswered(f"{self.what} at {self.address} did not answer within {seconds:g} s{wait}; its address is "
                          f"set by {self.variable}{'; ' + outcome if outcome else ''}")

    def unreachable(self, error: BaseException, *, outcome: str | None = "nothing was changed") -> Unanswered:
        reason = " ".join(str(error).split())[:200]
        return Unanswered(f"{self.what} at {self.address} refused the connection or could not be found ({type(error).__name__}"
                          f"{': ' + reason if reason else ''}); its address is set by {self.variable}"
                          f"{'; ' + outcome if outcome else ''}")


def connect_seconds() -> float:
    """How long a peer has to answer a command's first contact (STYRKEDJA_CONNECT_TIMEOUT_SECONDS)."""
    return ServiceSettings().connect_timeout_seconds


def database_peer(url: str) -> Peer:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    host = parsed.host or "localhost"
    address = f"[{host}]:{parsed.port or 5432}" if ":" in host else f"{host}:{parsed.port or 5432}"
    return Peer("the database", f"{address} (database {parsed.database or '-'})", "STYRKEDJA_DATABASE_URL")


def broker_peer(settings: ServiceSettings) -> Peer:
    return Peer("the broker", settings.kafka_bootstrap_servers, "STYRKEDJA_KAFKA_BOOTSTRAP_SERVERS")


async def reach_database(url: str, seconds: float) -> None:
    """One connection opened and closed within `seconds`, or `Unanswered`."""
    import asyncpg
    from sqlalchemy.engine import make_url

    peer = database_peer(url)
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        async with asyncio.timeout(seconds):
            connection = await asyncpg.connect(dsn, timeout=seconds)
            await connection.close(timeout=seconds)
    except TimeoutError:  # asyncpg's own or ours: both are the wait given
        raise peer.timed_out(seconds) from None
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:  # refused, no such host, a login
        raise peer.unreachable(error) from None


async def reach_broker(settings: ServiceSettings, seconds: float) -> None:
    """The broker's metadata fetched (aiokafka's bootstrap) within `seconds`, or `Unanswered`."""
    from aiokafka import AIOKafkaClient
    from aiokafka.errors import KafkaError

    from .kafka import connection_options

    peer = broker_peer(settings)
    # aiokafka's own request timeout a second past ours: a silent broker is our TimeoutError (the wait given), not
    # its "Unable to bootstrap", which it also says for a refused connection
    client = AIOKafkaClient(**connection_options(settings), client_id=f"{settings.client_id}-reach",
                            request_timeout_ms=int(seconds * 1000) + 1000)
    try:
        async with asyncio.timeout(seconds):
            await client.bootstrap()
    except TimeoutError:
        raise peer.timed_out(seconds) from None
    except KafkaError as error:  # aiokafka's "Unable to bootstrap": refused, no such host
        raise peer.unreachable(error) from None
    except OSError as error:
        raise peer.unreachable(error) from None
    finally:
        await client.close()

