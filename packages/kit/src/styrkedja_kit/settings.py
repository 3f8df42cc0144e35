"""Settings shared by every service, read from the environment (prefix `STYRKEDJA_`).

Each process runs exactly one service, so one flat set of variables is enough:
`STYRKEDJA_DATABASE_URL`, `STYRKEDJA_KAFKA_BOOTSTRAP_SERVERS`, ...
"""

from __future__ import annotations

import ipaddress
import os
import re
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: the longest lifetime (`exp - iat`) a bearer token may have by default: a day. Keycloak's access tokens
#: live 5 minutes by default (this project's realm too), Entra ID's about an hour, the dev issuer's
#: (`styrkedja token --ttl`) at most this
MAX_TOKEN_LIFETIME_SECONDS = 86_400
#: a compressed record batch may inflate to this many of the largest events by default: a producer's batch holds
#: up to ~1 MB of records before compression (librdkafka's batch.size; Java's is 16 kB), far less than 64 × 256 kB
#: what `make run` serves (the devstack's PostgreSQL): the first thing a newcomer needs for an operations command
MAKE_RUN_DATABASES = ("under `make run`: STYRKEDJA_DATABASE_URL=postgresql://postgres@127.0.0.1:55432/"
                      "styrkedja_<service> (assessment, forecast, lika or reporting)")
INFLATED_BATCH_EVENTS = 64
#: an origin as a browser serializes it (RFC 6454 §6.2): scheme, lower-case host (a name, IPv4 or bracketed IPv6), port
_ORIGIN = re.compile(r"https?://(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\])"
                     r"(?::[0-9]{1,5})?")


def validation_lines(error: Any) -> list[str]:
    """A pydantic ValidationError as one line per field, for a person at a terminal or in a Job's log. Of a settings
    class (read from the environment) the line names the variable to fix and the rule it breaks. The value is not
    repeated: a setting may be a password or a token."""
    settings = str(error.title).endswith("Settings")
    lines = []
    for problem in error.errors(include_url=False, include_input=False):
        field = ".".join(str(part) for part in problem.get("loc", ()))
        what = f"setting STYRKEDJA_{field.upper()}" if settings else f"{error.title}.{field}"
        lines.append(f"{what}: {problem.get('msg', 'invalid')}")
    return lines


#: one broker of a bootstrap list: a host name or IPv4 address, or a bracketed IPv6 address, and a port (aiokafka's 9092
#: when none)
_BOOTSTRAP_SERVER = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]+\])(?::(?P<port>[0-9]{1,5}))?")

#: a host name (RFC 1123 labels, dot-separated) a listener may bind
_HOST_NAME = re.compile(r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                        r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*")

class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STYRKEDJA_", extra="ignore")

    service_name: str = "styrkedja"
    database_url: str = Field(
        "postgresql+asyncpg://postgres@127.0.0.1:55432/styrkedja",
        description="SQLAlchemy URL of this service's own database (asyncpg driver).",
    )
    database_pool_size: int = 10
    # a request waits this long for a connection of the pool (pool_size + as many overflow) before it is
    # answered 503 `database_busy` with a Retry-After (`problems.py`), not left to a client's own timeout
    database_pool_timeout_seconds: float = Field(30.0, gt=0, le=600)
    kafka_bootstrap_servers: str = "127.0.0.1:19092"
    kafka_client_id: str | None = None
    # a produce request the broker does not answer is given up (and the rows sent again) after
    # this long: on one machine seconds are plenty; a busy production cluster may want more
    kafka_producer_request_timeout_ms: int = Field(5_000, ge=500)
    # production brokers (Strimzi): TLS + SCRAM per service user; the embedded broker is plain
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: str | None = None
    # delete and recreate a topic that a broker which lost its state auto-created with the wrong
    # partition count: only for the embedded devstack broker (it sets this); never on a production
    # cluster, where topics belong to the operator (Strimzi KafkaTopic) and ACLs forbid deletes
    kafka_repair_auto_created_topics: bool = False
    # whether the broker may come back from a restart without its logs (the embedded broker keeps topics in
    # memory): then the outbox relay checks for that and republishes, and the consumer re-reads a partition
    # whose offset marker the broker forgot. None: decided from the broker's answer (kafka.broker_may_lose_logs):
    # never against a durable broker (Apache Kafka), where a missing marker right after a restart proves nothing
    kafka_broker_may_lose_logs: bool | None = None
    log_level: str = "INFO"

    # outbox relay
    outbox_enabled: bool = True
    outbox_batch_size: int = Field(5000, ge=1, le=10_000)
    outbox_poll_interval_seconds: float = Field(1.0, gt=0)
    outbox_loss_check_interval_seconds: float = Field(5.0, gt=0)
    outbox_retention_days: int = Field(30, ge=1)
    #: the relay's record batches at most this large (0: as large as the broker takes, `record_batch_bytes`)
    outbox_record_batch_max_bytes: int = Field(0, ge=0)

    # consumer loop
    consumer_enabled: bool = True
    # a batch is applied in one transaction, one statement per table: bigger batches share the
    # aggregate cells of their events. After the first fetch the loop keeps taking records that are
    # already there (it never waits for more) until `consumer_max_records` or `consumer_batch_max_ms`.
    # 5,000: a backlog applies ~1.5x faster than at 1,000 and reporting stays under 250 MB RSS
    # (make bench on Apache Kafka: 1,000 → 2,267 ev/s, 189 MB; 5,000 → 3,410 ev/s, 220 MB; 10,000 →
    # 3,860 ev/s, 270 MB); an idle stream still goes in small batches (the loop never waits for more).
    # One CI run with 10,000 once ended two SIGKILL-and-replay checks inexact; the one cause found that
    # fits (never reproduced) was the consistency check reading between the consumer's commits (now one
    # REPEATABLE READ snapshot, reporting `ops/queries.py`); applying is independent of how a log is split
    # into batches (services/reporting/tests/integration/test_batch_split.py)
    consumer_max_records: int = Field(5_000, ge=1, le=100_000)
    consumer_batch_max_ms: int = Field(250, ge=0)
    # and at most about this many bytes of records (keys and values; the first fetch is taken whole, each one after it
    # only while the batch is below this): a batch is held whole, decoded, until its transaction commits, ~3x its
    # records' bytes once decoded (a LIKA self-assessment at `max_event_bytes` is ~0.95 MB with its record). 5,000
    # such valid events were ~4.7 GB: the process was killed for its memory, then started on the same batch again,
    # for ever. Usual events (~1 KB) fill `consumer_max_records` far below it
    consumer_max_batch_bytes: int = Field(16 * 1024 * 1024, ge=1)
    consumer_poll_timeout_ms: int = Field(200, ge=1)
    # how long the broker may hold a fetch that finds no data (a probe on the embedded broker saw
    # fetches answered ~1.5 ms after a record arrived, whatever this is). On Apache Kafka it also
    # bounds how long a partition whose records the loop just took waits to be fetched again: the
    # client keeps one fetch in flight per broker, and while that one waits for the other (idle)
    # partitions, the taken one is not asked for (bench/results/flow.json: 100 → 25 ms). Idle, a
    # consumer sends one fetch per this interval
    consumer_fetch_max_wait_ms: int = Field(25, ge=1)
    # take the next batch's records from the client during a partial batch's transaction too, not only a full
    # one's (`ConsumerLoop._loop`): a record behind records of its partition left in the client until the commit
    # was fetched only after it and waited a batch more (bench/fetch_wait.py, Apache Kafka, batches of ~45 ms:
    # acknowledged → batch start p50 43 → 22 ms). None: on against Apache Kafka, off against the embedded
    # broker (told by its end offsets, `BrokerCapabilities.exact_offsets`): POST → visible in alternated pairs
    # of bench/speed.py (bench/results/latency3.json) was lower with it on Apache Kafka and higher on the
    # embedded broker, whose fetches answer new records ~7 ms late and whose batches took longer beside it
    consumer_prefetch_partial: bool | None = None
    # how soon the group notices a member that died without leaving (SIGKILL) and rebalances. None:
    # chosen from the broker's capabilities (`kafka.group_timing`): 6 s where the broker has static
    # membership (Apache Kafka: its smallest session by default), 1 s where it has not (the embedded
    # broker, whose restarted member waits out the dead one's session); heartbeats a quarter of it
    consumer_session_timeout_ms: int | None = Field(None, ge=1_000)
    consumer_heartbeat_interval_ms: int | None = Field(None, ge=100)
    # static membership (Apache Kafka): a restarted member with the same id takes its partitions
    # back at once instead of waiting for its old session to time out; one id per replica (pod name)
    consumer_group_instance_id: str | None = Field(None, pattern=r"^[A-Za-z0-9._-]{1,200}$")
    # of the sibling worker processes of one server (uvicorn `--workers N`), how many consume: each a member of the
    # group, the single writer of the partitions it is handed (one advisory lock per consuming slot; the others
    # serve HTTP only and take a slot over when its worker dies). 1: one consumer per server. More use more cores
    # for a service whose apply never shares a row between partitions (reporting's: every cell is keyed by
    # organiser, as the records are; bench/results/apply16.json). A process of its own (a pod, a test) always consumes
    consumer_workers: int = Field(1, ge=1, le=64)
    max_event_bytes: int = Field(256_000, ge=1_000)
    # a compressed record batch inflates to at most this many bytes (None: 64 of the largest event): 200 MB of
    # zeros is 6 KB of zstd, and the client inflated a whole batch in memory with no limit (kafka.py)
    max_inflated_batch_bytes: int | None = Field(None, ge=1_000)

    @property
    def inflated_batch_limit(self) -> int:
        return self.max_inflated_batch_bytes or INFLATED_BATCH_EVENTS * self.max_event_bytes

    def database_url_unset(self) -> str | None:
        """Why an operations command (migrate, replay, rebuild) must not run, or None: the database URL was not
        given. The default is localhost's for development; such a command must not rewrite whatever database
        happens to answer there."""
        if "database_url" not in self.model_fields_set:
            return f"STYRKEDJA_DATABASE_URL is not set ({MAKE_RUN_DATABASES})"
        # one that SQLAlchemy cannot read (`notaurl`, empty) or names another driver was ArgumentError or
        # ModuleNotFoundError after the command had started (exit 1, a traceback in the rebuild): a usage error
        from sqlalchemy.engine import make_url

        try:
            driver = make_url(self.database_url).drivername
        except Exception:  # ArgumentError, ValueError (a port that is no number): the URL is not repeated (a password)
            return "STYRKEDJA_DATABASE_URL is not a URL SQLAlchemy can read"
        if driver != "postgresql+asyncpg":
            return (f"STYRKEDJA_DATABASE_URL names {driver!r}: a PostgreSQL URL is needed (postgresql:// or "
                    "postgresql+asyncpg://)")
        return None

    def kafka_bootstrap_servers_problem(self) -> str | None:
        """Why STYRKEDJA_KAFKA_BOOTSTRAP_SERVERS names no broker, or None: asked by the commands that need one
        (topics, rebuild) before they start. An empty entry, `h:abc` or a port past 65535 was aiokafka's
        "Unable to bootstrap", int()'s ValueError or the socket's OverflowError after the start (exit 1)."""
        entries = self.kafka_bootstrap_servers.split(",")
        for entry in entries:
            match = _BOOTSTRAP_SERVER.fullmatch(entry.strip())
            if match is None or (match.group("port") and not 0 < int(match.group("port")) <= 65535):
                shown = repr(entry if len(entry) <= 60 else entry[:59] + "\u2026")
                return (f"STYRKEDJA_KAFKA_BOOTSTRAP_SERVERS: {shown} is not HOST:PORT (a comma-separated list of "
                        "them, a port 1-65535), e.g. 127.0.0.1:19092")
        return None

    # access (styrkedja_kit.auth): any OIDC provider; the services read only standard claims plus
    # the scope claims documented in auth/principal.py, nothing provider-specific
    auth_issuer: str | None = Field(None, description="OIDC issuer URL; its discovery document names the JWKS.")
    # where to fetch the discovery document when the issuer's public URL is not reachable from the
    # service (compose: tokens say http://localhost:8180/realms/styrkedja, the service asks keycloak:8080)
    auth_discovery_url: str | None = None
    auth_audience: str = "styrkedja"
    auth_algorithms: list[Literal["RS256", "RS384", "RS512", "PS256", "ES256", "ES384"]] = ["RS256", "ES256"]
    auth_leeway_seconds: int = Field(30, ge=0, le=300)
    # the longest lifetime (`exp - iat`; without `iat`, `exp - now`) a token may have: a validly signed token
    # with `exp` years ahead is refused (401). A day by default: Keycloak's 5 min and the dev issuer's pass
    auth_max_token_lifetime_seconds: int = Field(MAX_TOKEN_LIFETIME_SECONDS, ge=60, le=30 * 86_400)
    # an unknown `kid` triggers a JWKS refresh at most this often (a flood of forged kids cannot
    # make us hammer the issuer)
    auth_jwks_min_refresh_seconds: float = Field(30.0, ge=0)
    auth_jwks_max_age_seconds: float = Field(3600.0, gt=0)
    # a verified token is remembered this long (never past its expiry); 0: check every request in full
    auth_verified_cache_seconds: float = Field(60.0, ge=0, le=3600)
    # browsers: CORS stays closed unless origins are listed here
    cors_allow_origins: list[str] = []

    # HTTP input limits: a larger body is a 413, a larger batch a 422 naming the limit
    max_request_body_bytes: int = Field(4 * 1024 * 1024, ge=1_024)
    # a body not whole this long after its request came is a 408 (`app._within`): a client sending less than it
    # declared, or a byte a minute, is not waited for as long as it likes (4 MiB at 1 Mbit/s takes ~34 s)
    request_body_timeout_seconds: float = Field(60.0, gt=0, le=3600)
    max_batch_items: int = Field(1000, ge=1, le=10_000)
    # what one instance takes on at once (`admission.OverloadGuard`; the probes never counted): more is a 503
    # `overloaded` with Retry-After, answered before the request's body is read. Writes (POST, PUT, PATCH, DELETE)
    # bound apart: each may hold a body of `max_request_body_bytes` and its parsed items while it waits for a
    # database connection. Files (xlsx workbooks, CSV: `max_exports_in_flight`, `admission.Slots`) are written
    # on the instance's CPU and disk (reporting's workbooks in temporary files): a few at once
    # Prometheus's metrics (the consumer's lag and applied counts, the outbox backlog: they move with every
    # organiser's writes) are told to no one by default (privacy round 30o). `metrics_port`: on a listener of their
    # own, at `metrics_bind` — a port the ingress and the published ports never reach (deploy/k8s: the Service's
    # `metrics` port, scraped by the ServiceMonitor); of several uvicorn workers the first to bind it serves it, and
    # every worker's values (`workers_metrics`: their files in `metrics_dir`/<uvicorn's pid and start time>, made and
    # cleared by the workers; read at import, before these settings: here it is checked and documented).
    # `metrics_on_app_port`: `/metrics` on the API's own port, no token — only where nothing but the scraper reaches
    # that port (the devstack on 127.0.0.1); otherwise the path is a 404 and not in the OpenAPI document
    metrics_port: int | None = Field(None, ge=1, le=65_535)
    metrics_bind: str = "127.0.0.1"
    metrics_on_app_port: bool = False
    metrics_dir: str | None = None  # None: <the temporary directory>/styrkedja-metrics (a tmpfs in the images)
    # /readyz: each check (the database on a connection of its own, the broker) at once, each answered within this
    readiness_timeout_seconds: float = Field(5.0, gt=0, le=60)
    # the ops commands (migrate, replay, topics, rebuild): how long the database and the broker each have to answer
    # their first contact (`reach.py`) before the command stops naming what did not answer, where, and the variable
    # that sets its address; without it a silent peer was asyncpg's bare "TimeoutError:" after 60 s
    connect_timeout_seconds: float = Field(30.0, gt=0, le=600)
    max_requests_in_flight: int = Field(1000, ge=1, le=100_000)
    max_writes_in_flight: int = Field(64, ge=1, le=10_000)
    max_exports_in_flight: int = Field(8, ge=1, le=1_000)
    overload_retry_after_seconds: int = Field(1, ge=1, le=3600)
    # of those, one client's (a token's subject) at once (`admission.ClientBound`, `ClientSlots`): more is a 429
    # `client_in_flight` with Retry-After, so that one platform writing in a loop cannot take every write slot
    max_writes_per_client_in_flight: int = Field(32, ge=1, le=10_000)
    max_exports_per_client_in_flight: int = Field(2, ge=1, le=1_000)
    # the write path's events made of the request's checked values, each rule applied once
    # (`writes.Checked`); False: every event validated again by its contract model (the per-item
    # path, which the tests compare the fast one with)
    write_events_checked_once: bool = True
    # the cycle collector's young-generation threshold (Python's default 700; 0 keeps it): see
    # `app.tune_garbage_collector`
    gc_gen0_threshold: int = Field(50_000, ge=0)
    # glibc's allocator (`app.tune_allocator`; None keeps glibc's own choice): freed memory above
    # the trim threshold goes back to the system, blocks from the mmap threshold up get mappings of
    # their own (returned whole when freed), at most this many arenas. Off by default; reporting sets
    # them to stay within its memory target (bench/README.md)
    malloc_trim_threshold_bytes: int | None = Field(None, ge=0)
    malloc_mmap_threshold_bytes: int | None = Field(None, ge=0, le=32 * 2**20)
    malloc_arena_max: int | None = Field(None, ge=1)

    @field_validator("database_url")
    @classmethod
    def _asyncpg_driver(cls, url: str) -> str:
        """Operators hand out plain `postgresql://` URIs (CloudNativePG's app secret does): use asyncpg."""
        for plain in ("postgresql://", "postgres://"):
            if url.startswith(plain):
                return "postgresql+asyncpg://" + url[len(plain):]
        return url

    @field_validator("metrics_dir")
    @classmethod
    def _absolute_directory(cls, directory: str | None) -> str | None:
        """An absolute path: a relative one would be relative to whatever directory the worker was started in."""
        if directory is not None and not os.path.isabs(directory):
            raise ValueError("an absolute path (where uvicorn workers' metrics files go), e.g. /tmp/styrkedja-metrics")
        return directory

    @field_validator("metrics_bind")
    @classmethod
    def _listenable_address(cls, bind: str) -> str:
        """An IP address or a host name: an empty one, a typo or an address with a port was started with, the
        listener failed and the service served on without metrics, logged as if another worker held the port (hostile
        round 30h)."""
        try:
            ipaddress.ip_address(bind)
        except ValueError:
            if not _HOST_NAME.fullmatch(bind):
                raise ValueError("an IP address or a host name of this machine (127.0.0.1: this host or pod alone; "
                                 "0.0.0.0: every interface)") from None
        return bind

    @field_validator("cors_allow_origins")
    @classmethod
    def _serialized_origins(cls, origins: list[str]) -> list[str]:
        """Each listed origin as a browser sends it (RFC 6454 §6.2: `https://host[:port]`, lower case, no path), or
        `*`: the preflight compares them exactly (`security.cors_refusals`), so `https://Skola.example/` would never
        match, and `null` (what sandboxed frames and files send, any page can be one) would open the service to all."""
        for origin in origins:
            if origin != "*" and not _ORIGIN.fullmatch(origin):
                raise ValueError(f"cors_allow_origins: {origin[:100]!r} is not an origin as a browser sends it "
                                 "(`https://host` or `https://host:port`, lower case, no path), nor `*`")
        return origins

    @property
    def client_id(self) -> str:
        return self.kafka_client_id or self.service_name
