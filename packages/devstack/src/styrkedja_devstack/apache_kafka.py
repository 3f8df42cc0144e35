"""Apache Kafka (KRaft, one combined broker + controller node) from Maven Central artifacts.

The jars are resolved by Maven from the pinned `maven/kafka-pom.xml` into a project-local folder
(`.styrkedja/apache-kafka/<version>/lib`, or `$STYRKEDJA_KAFKA_LIB_DIR`) on first use; after that
no network is needed. The server runs as a `java` subprocess with its log folder under the state
folder: formatted on first start, durable across restarts (same node, ports and cluster id).
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Mapping
from pathlib import Path

from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_fixed

from .postgres import free_port

POM = Path(__file__).with_name("maven") / "kafka-pom.xml"
ENV_LIB_DIR = "STYRKEDJA_KAFKA_LIB_DIR"
ENV_HEAP = "STYRKEDJA_KAFKA_HEAP"
ENV_LOG_LEVEL = "STYRKEDJA_KAFKA_LOG_LEVEL"
INSTALL_HINT = "install Java 17+ and Maven (Debian: apt-get install openjdk-17-jre-headless maven)"

LOG4J2 = """\
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log_file}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = {level}
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = {level}
logger.apache.name = org.apache.kafka
logger.apache.level = {level}
"""


#: the node's heap (`-Xms` = `-Xmx`, committed up front) in MiB: from what a KRaft node needs to start with topics of a
#: test to more than this kind of machine (24 GiB) holds beside PostgreSQL and the services
HEAP_MIB = (128, 16 * 1024)
DEFAULT_HEAP = "512m"
_HEAP = re.compile(r"([0-9]{1,6})([mMgG])")
#: Log4j 2's levels, the only words its `rootLogger.level` reads (the value is written into the node's properties file)
LOG_LEVELS = ("OFF", "FATAL", "ERROR", "WARN", "INFO", "DEBUG", "TRACE", "ALL")


class BadKafkaSetting(ValueError):
    """A variable of the devstack's Apache Kafka node that is not what it names: said in one line naming the variable
    and its rule ("cannot start", exit 2), before anything starts."""


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:39] + "\u2026")


def kafka_heap(environ: Mapping[str, str] | None = None) -> str:
    """`STYRKEDJA_KAFKA_HEAP` as the JVM size given to `-Xms`/`-Xmx` (default 512m). Whole MiB or GiB within
    `HEAP_MIB`, nothing else: the text was split on white space into java's arguments as it came, so "512m
    -XX:OnOutOfMemoryError=..." gave the JVM options of its own, "2" a heap of 2 bytes (java: "Too small maximum heap")
    and "512M " or "64g" a node that failed or took the machine."""
    text = (os.environ if environ is None else environ).get(ENV_HEAP)
    if text is None or not text.strip():
        return DEFAULT_HEAP
    found = _HEAP.fullmatch(text.strip())
    if found is not None and HEAP_MIB[0] <= int(found[1]) * (1024 if found[2] in "gG" else 1) <= HEAP_MIB[1]:
        return f"{int(found[1])}{found[2].lower()}"
    raise BadKafkaSetting(f"{ENV_HEAP}={_shown(text)} is not a Java heap size: whole MiB or GiB from "
                          f"{HEAP_MIB[0]}m to {HEAP_MIB[1] // 1024}g, e.g. 512m or 2g (unset it for {DEFAULT_HEAP})")


def kafka_log_level(environ: Mapping[str, str] | None = None) -> str:
    """`STYRKEDJA_KAFKA_LOG_LEVEL` as a Log4j 2 level (default WARN), in any case. The text was written into the
    node's log4j2.properties as it came: a line break in it wrote properties of its own (another appender, another
    file), a word Log4j does not know left the node logging at its own default."""
    text = (os.environ if environ is None else environ).get(ENV_LOG_LEVEL)
    if text is None or not text.strip():
        return "WARN"
    if text.strip().upper() not in LOG_LEVELS:
        raise BadKafkaSetting(f"{ENV_LOG_LEVEL}={_shown(text)} is not a Log4j level: one of {', '.join(LOG_LEVELS)} "
                              "(unset it for WARN)")
    return text.strip().upper()


def kafka_setting_problems(environ: Mapping[str, str] | None = None) -> list[str]:
    """One line per variable of the node that `kafka_heap` or `kafka_log_level` refuses."""
    problems = []
    for check in (kafka_heap, kafka_log_level):
        try:
            check(environ)
        except BadKafkaSetting as error:
            problems.append(str(error))
    return problems


def kafka_version() -> str:
    match = re.search(r"<kafka.version>([^<]+)</kafka.version>", POM.read_text())
    assert match, "kafka.version missing from the pom"
    return match.group(1)


def java_major_version() -> int | None:
    java = shutil.which("java")
    if not java:
        return None
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30).stderr
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def lib_dir() -> Path:
    if os.environ.get(ENV_LIB_DIR):
        return Path(os.environ[ENV_LIB_DIR]).resolve()
    return (Path.cwd() / ".styrkedja" / "apache-kafka" / kafka_version() / "lib").resolve()


def missing_requirements() -> str | None:
    """Why Apache Kafka cannot run here (one line), or None when it can."""
    major = java_major_version()
    if major is None or major < 17:
        return f"Apache Kafka needs Java 17+ (found {major or 'none'}): {INSTALL_HINT}"
    if not _resolved(lib_dir()) and not shutil.which("mvn"):
        return f"Apache Kafka's jars are not resolved and Maven is missing: {INSTALL_HINT}"
    return None


def _resolved(lib: Path) -> bool:
    return (lib / ".complete").exists()


def resolve_jars(lib: Path | None = None) -> Path:
    """Resolve `kafka_2.13` and its dependencies into `lib` with Maven, once."""
    lib = lib or lib_dir()
    if _resolved(lib):
        return lib
    mvn = shutil.which("mvn")
    if not mvn:
        raise RuntimeError(f"Maven not found: {INSTALL_HINT}")
    lib.mkdir(parents=True, exist_ok=True)
    # one resolver at a time: two processes starting Apache Kafka at once (pytest's two workers, a test beside
    # `make run`) copied the same jars over each other ("Failed to copy full contents": one red CI run)
    with (lib.parent / f".{lib.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _resolved(lib):  # the other one resolved it meanwhile
            return lib
        _copy_dependencies(mvn, lib)
        (lib / ".complete").write_text(kafka_version())
    return lib


# tried three times: a download cut short or a jar of the shared local repository read while another Maven wrote
# it ("Failed to copy full contents") passes when tried again; a pom that cannot resolve fails all three
@retry(stop=stop_after_attempt(3), wait=wait_fixed(2), reraise=True, retry=retry_if_exception_type(RuntimeError))
def _copy_dependencies(mvn: str, lib: Path) -> None:
    result = subprocess.run(
        [mvn, "--batch-mode", "--quiet", "-f", str(POM), "dependency:copy-dependencies",
         f"-DoutputDirectory={lib}"], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"Maven could not resolve Apache Kafka {kafka_version()}:\n{result.stdout[-3000:]}")


class ApacheKafka:
    """One KRaft node whose data, ports and cluster id live in `state_dir` (restartable, durable)."""

    kind = "kafka"

    def __init__(self, state_dir: Path, port: int | None = None, host: str = "127.0.0.1") -> None:
        self.state_dir = state_dir.resolve()
        self.host = host
        self.data_dir = self.state_dir / "data"
        self.log_file = self.state_dir / "server.log"
        self.config_file = self.state_dir / "server.properties"
        self.process: subprocess.Popen[bytes] | None = None
        ports_file = self.state_dir / "ports"
        if ports_file.exists():  # a restart keeps the ports: clients and the quorum know them
            saved_port, controller_port = (int(p) for p in ports_file.read_text().split())
            self.port = port or saved_port
            self.controller_port = controller_port
        else:
            self.port = port or free_port(host)
            self.controller_port = free_port(host)

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    def _write_config(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / "ports").write_text(f"{self.port} {self.controller_port}")
        self.config_file.write_text("\n".join([
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@{self.host}:{self.controller_port}",
            f"listeners=PLAINTEXT://{self.host}:{self.port},CONTROLLER://{self.host}:{self.controller_port}",
            f"advertised.listeners=PLAINTEXT://{self.host}:{self.port}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            f"log.dirs={self.data_dir}",
            # the same settings as docker-compose.yml and deploy/k8s/kafka (one node: replication 1)
            "num.partitions=1",
            "default.replication.factor=1",
            "min.insync.replicas=1",
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=4",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "auto.create.topics.enable=false",
            "group.initial.rebalance.delay.ms=0",
            # the tests notice a SIGKILLed consumer within seconds (session timeout 3 s; default minimum 6 s)
            "group.min.session.timeout.ms=1000",
            "log.retention.hours=168",
            "log.segment.bytes=67108864",
            "delete.topic.enable=true",
            "",
        ]))
        (self.state_dir / "log4j2.properties").write_text(
            LOG4J2.format(log_file=self.log_file, level=kafka_log_level()))

    def _java(self, main: str, *args: str, heap: str = "-Xmx256m") -> list[str]:
        lib = resolve_jars()
        return [shutil.which("java") or "java", *heap.split(), "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
                "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={self.state_dir / 'log4j2.properties'}",
                f"-Dkafka.logs.dir={self.state_dir}", "-cp", f"{lib}/*", main, *args]

    def _format_once(self) -> None:
        if (self.data_dir / "meta.properties").exists():
            return
        cluster_id = _kraft_cluster_id()
        result = subprocess.run(self._java("kafka.tools.StorageTool", "format", "--ignore-formatted",
                                           "--cluster-id", cluster_id, "--config", str(self.config_file)),
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"formatting the Kafka log folder failed: {result.stdout}{result.stderr}")

    def start(self, timeout: float = 120) -> ApacheKafka:
        heap = kafka_heap()  # both read before anything is written or started
        kafka_log_level()
        self._write_config()
        self._format_once()
        out = open(self.state_dir / "stdout.log", "ab")  # noqa: SIM115 (the child holds it; closed below)
        # a fixed heap, committed up front: the broker's memory is a constant, not a curve (the logs are
        # on disk; the OS page cache, not the JVM, holds what is hot)
        self.process = subprocess.Popen(self._java("kafka.Kafka", str(self.config_file),
                                                   heap=f"-Xms{heap} -Xmx{heap} -XX:+AlwaysPreTouch"),
                                        stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        out.close()
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        """Ready when the broker answers a metadata request with itself in it (the port alone opens
        before the controller has elected itself)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"Apache Kafka exited with {self.process.returncode}; see {self.log_file} "
                                   f"and {self.state_dir / 'stdout.log'}")
            if _broker_registered(self.host, self.port):
                return
            time.sleep(0.25)
        raise RuntimeError(f"Apache Kafka not ready on {self.bootstrap_servers} within {timeout} s")

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def stop(self, kill: bool = False, timeout: float = 60) -> None:
        """SIGTERM: a controlled shutdown that flushes the logs (SIGKILL with `kill`)."""
        if self.process and self.process.poll() is None:
            if kill:
                os.killpg(self.process.pid, signal.SIGKILL)
            else:
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        self.stop(kill=True)

    def pause(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGCONT)

    def restart(self, kill: bool = True) -> None:
        """Stop (SIGKILL by default) and start again on the same ports and data: the logs survive."""
        self.stop(kill=kill)
        self.start()


def _kraft_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding (what `random-uuid` prints),
    never one that starts with "-": `kafka-storage format --cluster-id -x...` reads it as an option and
    fails (1 start in 64; Kafka's own Uuid.randomUuid draws again for the same reason)."""
    import base64

    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def _broker_registered(host: str, port: int) -> bool:
    import asyncio

    from aiokafka.client import AIOKafkaClient

    async def probe() -> bool:
        client = AIOKafkaClient(bootstrap_servers=f"{host}:{port}", request_timeout_ms=3000)
        try:
            await client.bootstrap()
            return bool(client.cluster.brokers())
        except Exception:
            return False
        finally:
            await client.close()

    try:
        with socket.create_connection((host, port), timeout=1):
            pass
    except OSError:
        return False
    return asyncio.run(probe())
