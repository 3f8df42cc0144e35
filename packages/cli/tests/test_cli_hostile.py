"""`styrkedja` as a hostile operator runs it, through the installed entry point (`main`, what `run_cli` exits
with), where the earlier tests called the typer app: a bad STYRKEDJA_* setting, a personal identity number typed
where an argument goes, a malformed URL, a state dir that is a file, Ctrl-C. Each is one readable line and an exit
code, never a traceback, and no personnummer in any spelling repeated."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from styrkedja_cli.main import main

PIN = "19121212-1212"  # Skatteverket's test personnummer, and spellings of it
PIN_SPELLINGS = (PIN, "191212121212", "121212-1212")


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.mark.parametrize("argv", [["replay", "--since", "2026-01-01T00:00:00Z"], ["topics"],
                                  ["migrate", "styrkedja_assessment", "--check"], ["rebuild", "reporting"]])
def test_a_setting_pydantic_refuses_is_one_line_per_variable(argv: list[str], capsys, monkeypatch) -> None:
    """Failed on the old code: `STYRKEDJA_DATABASE_POOL_SIZE=abc styrkedja replay …` was pydantic's ValidationError
    as a rich traceback, exit 1."""
    monkeypatch.setenv("STYRKEDJA_DATABASE_URL", "postgresql+asyncpg://u:secret@127.0.0.1:9/db")
    monkeypatch.setenv("STYRKEDJA_DATABASE_POOL_SIZE", "abc")
    monkeypatch.setenv("STYRKEDJA_OUTBOX_BATCH_SIZE", "0")
    code, output = _run(capsys, *argv)
    assert code == 2, output
    lines = output.strip().splitlines()
    assert any("error: setting STYRKEDJA_DATABASE_POOL_SIZE: " in line and "integer" in line
               for line in lines), output
    assert any("error: setting STYRKEDJA_OUTBOX_BATCH_SIZE: " in line for line in lines), output
    assert "Traceback" not in output and "abc" not in output and "validation error" not in output


@pytest.mark.parametrize("spelling", PIN_SPELLINGS)
@pytest.mark.parametrize("argv", [["token", "--role", "{}"], ["token", "--role", "teacher", "--ttl", "{}"],
                                  ["no-such-{}"], ["token", "--role", "teacher", "--x{}"]])
def test_a_usage_error_repeats_no_personal_identity_number(argv: list[str], spelling: str, capsys,
                                                           tmp_path: Path) -> None:
    """Failed on the old code: `styrkedja token --role 19121212-1212` (an operator's slip) answered "Invalid value
    for --role: '19121212-1212' is not one of …" on the terminal, so too an unknown command or option."""
    code, output = _run(capsys, *(a.format(spelling) for a in argv), "--state-dir", str(tmp_path))
    assert code == 2, output
    assert spelling not in output and spelling.replace("-", "") not in output.replace("-", ""), output
    assert "[REDACTED]" in output


@pytest.mark.parametrize("option", ["--assessment-url", "--forecast-url", "--lika-url", "--reporting-url"])
@pytest.mark.parametrize("url", ["notaurl", "", "http://[::1", "http://127.0.0.1:99999", "http://a\x01b",
                                 "ftp://127.0.0.1:8101", "http://:8101"])
def test_a_malformed_service_url_is_a_usage_error_before_anything_is_written(option: str, url: str, capsys,
                                                                            tmp_path: Path) -> None:
    """Failed on the old code: the demo generated and wrote the dump, then stopped with "is the system running?"
    (exit 1) for `notaurl` or `http://[::1`, and `http://127.0.0.1:99999` was an OverflowError traceback."""
    dump = tmp_path / "dump"
    code, output = _run(capsys, "demo", "--students", "50", "--dump-dir", str(dump), "--state-dir", str(tmp_path),
                        "--skip-import", option, url)
    assert code == 2, output
    assert option in output and "Traceback" not in output and "OverflowError" not in output
    assert not dump.exists()


def test_run_refuses_a_state_dir_that_is_a_file_before_anything_starts(capsys, tmp_path: Path) -> None:
    """Failed on the old code: "[1/4] starting PostgreSQL …", then FileExistsError's traceback (exit 1)."""
    (tmp_path / "afile").write_text("")
    for state_dir in (tmp_path / "afile", tmp_path / "afile" / "below"):
        code, output = _run(capsys, "run", "--state-dir", str(state_dir))
        assert code == 2, output
        assert "--state-dir" in output and "is a file" in output and "[1/4]" not in output, output
        assert "Traceback" not in output


@pytest.mark.parametrize("value", ["abc", "99999", "0", "-1", "", "1e3", "٥٥٤٣٢"])
@pytest.mark.parametrize("variable", ["STYRKEDJA_EMBEDDED_PG_PORT", "STYRKEDJA_EMBEDDED_KAFKA_PORT",
                                      "STYRKEDJA_DEV_ISSUER_PORT", "STYRKEDJA_DASHBOARD_PORT"])
def test_run_refuses_a_port_variable_that_is_no_port(variable: str, value: str, capsys, monkeypatch,
                                                     tmp_path: Path) -> None:
    """Failed on the old code: `abc` was int()'s ValueError traceback, 99999, 0 or -1 the socket's OverflowError
    traceback (and Arabic-Indic digits a port)."""
    monkeypatch.delenv("STYRKEDJA_POSTGRES_URL", raising=False)
    monkeypatch.delenv("STYRKEDJA_KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.setenv(variable, value)
    code, output = _run(capsys, "run", "--state-dir", str(tmp_path / "state"))
    assert code == 2, output
    assert f"{variable}=" in output and "1-65535" in output and "Traceback" not in output, output
    assert not (tmp_path / "state").exists()


def test_run_refuses_two_of_its_own_on_one_port() -> None:
    """Failed on the old code: STYRKEDJA_DASHBOARD_PORT=8101 (the assessment service's) passed the check; the stack
    started PostgreSQL, the broker, migrations and services before the dashboard could not bind."""
    from styrkedja_devstack.__main__ import taken_ports

    lines = taken_ports({"STYRKEDJA_DASHBOARD_PORT": "8101", "STYRKEDJA_EMBEDDED_PG_PORT": "60001",
                         "STYRKEDJA_EMBEDDED_KAFKA_PORT": "60001"})
    assert any("8101 is wanted by the assessment service and by the dashboard" in line
               and "STYRKEDJA_DASHBOARD_PORT" in line for line in lines), lines
    assert any("60001 is wanted by embedded PostgreSQL and by the broker" in line for line in lines), lines


class _Silent:
    """A server that accepts connections and never answers: a database or service that hangs mid-way."""

    def __init__(self) -> None:
        import socket
        import threading

        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(50)
        self.port = self.socket.getsockname()[1]
        self.accepted = threading.Event()
        self.held: list[object] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.held.append(self.socket.accept())
            except OSError:
                return
            self.accepted.set()

    def close(self) -> None:
        self.socket.close()


def _ctrl_c_as_in_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _interrupted(argv: list[str], env: dict[str, str], server: _Silent, cwd: Path,
                 program: tuple[str, ...] = ("-c", "from styrkedja_cli.main import run_cli; run_cli()")
                 ) -> tuple[int, str]:
    """`styrkedja ARGV` (or another `program`) as a shell runs it, Ctrl-C once it is talking to `server`. Its Ctrl-C
    as a terminal's foreground job has it: a suite started in the background by a shell without job control inherits
    SIGINT ignored (POSIX), and Python then keeps it ignored, so the command waited its whole timeout out."""
    process = subprocess.Popen([sys.executable, *program, *argv],
                               env={**os.environ, **env}, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, preexec_fn=_ctrl_c_as_in_a_terminal)
    try:
        assert server.accepted.wait(120), "the command never connected"
        server.accepted.clear()
        time.sleep(0.5)  # not an assertion: Ctrl-C a moment into the wait for an answer
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, output


@pytest.mark.parametrize("command", ["replay", "demo", "kit"])
def test_ctrl_c_mid_way_says_so_and_a_rerun_works(command: str, tmp_path: Path) -> None:
    """Failed on the old code: Ctrl-C while `replay` (or `python -m styrkedja_kit replay`, the image's Job) waited
    for its database, or `demo` for a service, exited 130 without a word (the kit returned 130 silently; typer
    turned KeyboardInterrupt into a bare exit 130)."""
    for _ in range(2):  # the second: nothing left behind stops a rerun
        # a server of each run's own: the first run's later connections (demo asks three services) were accepted
        # after the wait, so the rerun's wait ended at once and its Ctrl-C came during its imports (CI)
        server = _Silent()
        url = f"http://127.0.0.1:{server.port}"
        argv = {"replay": ["replay", "--since", "2026-01-01T00:00:00Z"],
                "kit": ["replay", "--since", "2026-01-01T00:00:00Z"],
                "demo": ["demo", "--students", "50", "--dump-dir", str(tmp_path / "dump"), "--state-dir",
                         str(tmp_path / "none"), "--skip-import", "--assessment-url", url, "--forecast-url", url,
                         "--lika-url", url]}[command]
        env = {"STYRKEDJA_DATABASE_URL": f"postgresql+asyncpg://u@127.0.0.1:{server.port}/db"}
        try:
            program = ("-m", "styrkedja_kit") if command == "kit" else None
            code, output = _interrupted(argv, env, server, tmp_path, *([program] if program else []))
        finally:
            server.close()
        assert code == 130, output
        lines = output.rstrip().splitlines()
        assert "interrupted (Ctrl-C)" in lines[-1] and len([x for x in lines if "interrupted" in x]) == 1, output
        assert "Traceback" not in output and "KeyboardInterrupt" not in output, output


@pytest.mark.parametrize(("argv", "silent", "variable"), [
    (["replay", "--since", "2026-01-01T00:00:00Z"], "database", "STYRKEDJA_DATABASE_URL"),
    (["migrate", "styrkedja_assessment"], "database", "STYRKEDJA_DATABASE_URL"),
    (["migrate", "styrkedja_assessment", "--check"], "database", "STYRKEDJA_DATABASE_URL"),
    (["topics"], "broker", "STYRKEDJA_KAFKA_BOOTSTRAP_SERVERS"),
    (["rebuild", "reporting", "--no-dead-letter", "--decoders", "0"], "database", "STYRKEDJA_DATABASE_URL"),
    (["rebuild", "reporting", "--decoders", "0"], "database", "STYRKEDJA_DATABASE_URL")])
def test_a_database_or_broker_that_never_answers_is_named_in_one_line(argv: list[str], silent: str, variable: str,
                                                                      capsys, monkeypatch) -> None:
    """Failed on the old code: a database that accepts and says nothing was "database … failed: TimeoutError:" after
    asyncpg's 60 s (replay, migrate), a silent broker aiokafka's "Unable to bootstrap" after 40 s (topics), the
    rebuild "(STYRKEDJA_DATABASE_URL: TimeoutError)": none said how long it waited nor what sets the wait."""
    server = _Silent()
    monkeypatch.setenv("STYRKEDJA_DATABASE_URL", f"postgresql+asyncpg://u:secret@127.0.0.1:{server.port}/styrkedja_reporting")
    monkeypatch.setenv("STYRKEDJA_KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{server.port}")
    monkeypatch.setenv("STYRKEDJA_CONNECT_TIMEOUT_SECONDS", "1")
    try:
        code, output = _exit(capsys, *argv)
    finally:
        server.close()
    assert code == 1, output
    said = [line for line in output.splitlines() if "did not answer" in line]
    assert len(said) == 1, output
    assert (f"the {silent} at 127.0.0.1:{server.port}" in said[0] and "within 1 s" in said[0]
            and "STYRKEDJA_CONNECT_TIMEOUT_SECONDS" in said[0] and f"its address is set by {variable}" in said[0]), output
    assert "Traceback" not in output and "TimeoutError" not in output and "secret" not in output, output


@pytest.mark.parametrize("spelling", PIN_SPELLINGS)
@pytest.mark.parametrize("argv", [["replay", "--since", "2026-01-01T00:00:00Z", "{}"], ["topics", "--x={}"],
                                  ["migrate", "styrkedja_assessment", "{}"], ["rebuild", "reporting", "{}"],
                                  ["rebuild", "reporting", "--chunk", "{}x"], ["rebuild", "reporting", "--decoders={}"]])
def test_the_ops_commands_usage_errors_repeat_no_personal_identity_number(argv: list[str], spelling: str,
                                                                          capsys) -> None:
    """Failed on the old code: argparse's own "unrecognized arguments: 19121212-1212" (the kit's commands and the
    rebuild), and the rebuild's "--chunk: '191212121212x' is not a whole number", repeated what was typed."""
    with pytest.raises(SystemExit) as exit_:  # argparse exits itself, the kit's and the rebuild's parser alike
        code, output = _run(capsys, *(a.format(spelling) for a in argv))
        raise SystemExit(code)
    output = capsys.readouterr().err
    assert exit_.value.code == 2, output
    assert "error:" in output and "[REDACTED]" in output, output
    assert spelling not in output and spelling.replace("-", "") not in output.replace("-", ""), output


class _Answering:
    """A server that answers every request with `status` and `body` (`kind`): a proxy's page, a hostile server."""

    def __init__(self, status: int, body: bytes, kind: str) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_PATCH = _answer

            def log_message(self, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                pass  # the CLI may stop reading once it has its answer (CI: a reset's traceback landed in capsys)

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


HTML = b"<html><head><title>Error</title></head><body>" + b"x" * 2000 + PIN.encode() + b"</body></html>"
PROBLEM = ('{"title": "Bad", "detail": "student ' + PIN + ' ' + "y" * 2000 + '"}').encode()


@pytest.mark.parametrize(("status", "body", "kind", "said"), [
    (401, HTML, "text/html", "token was refused"), (403, PROBLEM, "application/problem+json", "token was refused"),
    (500, HTML, "text/html", "not a Styrkedja service's answer"), (500, PROBLEM, "application/problem+json", "Bad"),
    (200, HTML, "text/html", "not JSON")])
def test_demo_says_what_a_refusing_or_foreign_server_answered_in_one_short_line(
        status: int, body: bytes, kind: str, said: str, capsys, tmp_path: Path) -> None:
    """Failed on the old code: a 401 or 500 page was repeated as 600 characters of HTML (a problem's detail with a
    personnummer in it as it came), a 401 said nothing of the token, and HTTP 200 with a page was JSONDecodeError's
    traceback."""
    server = _Answering(status, body, kind)
    try:
        code, output = _run(capsys, "demo", "--students", "50", "--dump-dir", str(tmp_path / "dump"), "--state-dir",
                            str(tmp_path / "none"), "--skip-import", "--assessment-url", server.url,
                            "--forecast-url", server.url, "--lika-url", server.url)
    finally:
        server.close()
    flat = " ".join(output.split())
    assert code == 1, output
    assert f"HTTP {status}" in flat and said in flat, output
    assert "<html" not in output and "x" * 100 not in output and "y" * 400 not in output, output
    assert "Traceback" not in output and "JSONDecodeError" not in output
    assert PIN not in output and PIN.replace("-", "") not in output.replace("-", ""), output


@pytest.mark.parametrize(("option", "value"), [("--school-unit", ""), ("--school-unit", "1234567"),
                                               ("--organiser", "٢١٨٠"), ("--area", "a\x07"), ("--group", "x"),
                                               ("--subject", "s\x00"), ("--client-id", "c\x1b[31m")])
def test_token_names_the_option_a_bad_scope_came_from(option: str, value: str, capsys, tmp_path: Path) -> None:
    """Failed on the old code: "Invalid value: school_units: '' is not a valid identifier" named the token's claim,
    not the option to fix."""
    code, output = _run(capsys, "token", "--role", "teacher", option, value, "--state-dir", str(tmp_path))
    assert code == 2, output
    assert f"Invalid value for {option}:" in " ".join(output.split()), output


@pytest.mark.parametrize("damage", ["issuer.json not json", "key.pem not a key", "key.pem a folder",
                                    "issuer.json without issuer"])
@pytest.mark.parametrize("command", ["token", "demo"])
def test_a_damaged_dev_issuer_is_a_usage_error_naming_the_state_dir(command: str, damage: str, capsys,
                                                                    tmp_path: Path) -> None:
    """Failed on the old code: JSONDecodeError, cryptography's ValueError, IsADirectoryError or KeyError as a
    traceback (exit 1), for `token` and for `demo` alike."""
    issuer = tmp_path / "state" / "issuer"
    issuer.mkdir(parents=True)
    (issuer / "issuer.json").write_text('{"issuer": "http://127.0.0.1:9"}')
    if damage == "issuer.json not json":
        (issuer / "issuer.json").write_text("junk")
    elif damage == "issuer.json without issuer":
        (issuer / "issuer.json").write_text("{}")
    elif damage == "key.pem not a key":
        (issuer / "key.pem").write_text("junk")
    else:
        (issuer / "key.pem").mkdir()
    argv = {"token": ["token", "--role", "teacher"],
            "demo": ["demo", "--students", "50", "--dump-dir", str(tmp_path / "dump"), "--skip-import"]}[command]
    code, output = _run(capsys, *argv, "--state-dir", str(tmp_path / "state"))
    flat = " ".join(output.split())
    assert code == 2, output
    assert "Invalid value for --state-dir" in flat and "damaged" in flat and "Traceback" not in output, output


def _exit(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """As `_run`, for commands whose parser is argparse's (it exits itself on a usage error)."""
    try:
        code = main(list(argv))
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.mark.parametrize("url", ["notaurl", "", "postgresql://u:secret@h:abc/db", "mysql://u:secret@h/db",
                                 "postgresql+psycopg2://u:secret@127.0.0.1:9/db"])
@pytest.mark.parametrize("argv", [["replay", "--since", "2026-01-01T00:00:00Z"], ["migrate", "styrkedja_assessment"],
                                  ["rebuild", "reporting", "--no-dead-letter"]])
def test_a_database_url_that_is_no_postgresql_url_is_a_usage_error(argv: list[str], url: str, capsys,
                                                                   monkeypatch) -> None:
    """Failed on the old code: `notaurl` or an empty value was SQLAlchemy's ArgumentError, `mysql://` or
    `+psycopg2` a ModuleNotFoundError, after the command had started (exit 1; the rebuild's a traceback)."""
    monkeypatch.setenv("STYRKEDJA_DATABASE_URL", url)
    code, output = _exit(capsys, *argv)
    assert code == 2, output
    assert "STYRKEDJA_DATABASE_URL" in output and "secret" not in output, output
    assert not {"Traceback", "ArgumentError", "ModuleNotFoundError"} & set(output.replace(":", " ").split()), output


@pytest.mark.parametrize("command", [[], ["run"], ["token"], ["demo"], ["replay"], ["migrate"], ["topics"],
                                     ["rebuild"], ["rebuild", "reporting"], ["import"], ["import", "ss12000"]])
def test_every_command_takes_dash_h_as_help(command: list[str], capsys) -> None:
    """Failed on the old code: `styrkedja replay -h` was help, `styrkedja token -h` "No such option: -h" (exit 2)."""
    code, output = _exit(capsys, *command, "-h")
    assert code == 0, output
    assert "usage:" in output.lower() and "No such option" not in output, output


@pytest.mark.parametrize("servers", ["", ",", "h:abc", "127.0.0.1:99999", "127.0.0.1:0", "h\x01:1",
                                     "127.0.0.1:19092,"])
@pytest.mark.parametrize("argv", [["topics"], ["rebuild", "reporting", "--no-dead-letter"]])
def test_bootstrap_servers_that_name_no_broker_are_a_usage_error(argv: list[str], servers: str, capsys,
                                                                 monkeypatch) -> None:
    """Failed on the old code: an empty entry was aiokafka's "Unable to bootstrap from [('', 9092 …" after the
    start, `h:abc` int()'s ValueError, a port past 65535 the socket's OverflowError (exit 1)."""
    monkeypatch.setenv("STYRKEDJA_DATABASE_URL", "postgresql+asyncpg://u@127.0.0.1:9/styrkedja_reporting")
    monkeypatch.setenv("STYRKEDJA_KAFKA_BOOTSTRAP_SERVERS", servers)
    code, output = _exit(capsys, *argv)
    assert code == 2, output
    assert "STYRKEDJA_KAFKA_BOOTSTRAP_SERVERS" in output and "HOST:PORT" in output, output


def test_bootstrap_servers_as_operators_write_them_pass() -> None:
    from styrkedja_kit.settings import ServiceSettings

    for servers in ("127.0.0.1:19092", "kafka", "kafka-0.kafka:9092, kafka-1.kafka:9092", "[::1]:9092"):
        assert ServiceSettings(kafka_bootstrap_servers=servers).kafka_bootstrap_servers_problem() is None, servers


def test_rebuild_refuses_a_profile_path_it_cannot_write_before_it_starts(capsys, monkeypatch, tmp_path: Path) -> None:
    """Failed on the old code: `--profile` was opened after the rebuild had committed: a folder that does not exist
    was FileNotFoundError's traceback (exit 1) for a rebuild that was done."""
    monkeypatch.setenv("STYRKEDJA_DATABASE_URL", "postgresql+asyncpg://u@127.0.0.1:9/styrkedja_reporting")
    monkeypatch.setenv("STYRKEDJA_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9")
    for path in (tmp_path / "no-such-folder" / "profile.txt", tmp_path):
        code, output = _exit(capsys, "rebuild", "reporting", "--profile", str(path))
        assert code == 2, output
        assert "--profile" in output and "no broker answered" not in output, output


@pytest.mark.parametrize(("variable", "value"), [("STYRKEDJA_BROKER", "bogus"), ("STYRKEDJA_WORKERS_REPORTING", "abc"),
                                                 ("STYRKEDJA_EMBEDDED_BROKER_MEMORY_WARN_MIB", "abc"),
                                                 # a service's own setting (knobs37): it stopped that service alone
                                                 # after the migrations, its traceback in its log
                                                 ("STYRKEDJA_REBUILD_PASS_PARTS", "abc"),
                                                 ("STYRKEDJA_OUTBOX_BATCH_SIZE", "0")])
def test_run_refuses_a_bad_variable_before_anything_starts(variable: str, value: str, capsys, monkeypatch,
                                                           tmp_path: Path) -> None:
    """Failed on the old code: STYRKEDJA_BROKER was read after PostgreSQL had started, STYRKEDJA_WORKERS_* after the
    migrations, the memory warning's MiB after PostgreSQL and the broker had started, outside the `finally` that
    stops them (both left running): each a ValueError's traceback."""
    from styrkedja_devstack.postgres import free_port

    for moved in ("STYRKEDJA_EMBEDDED_PG_PORT", "STYRKEDJA_EMBEDDED_KAFKA_PORT", "STYRKEDJA_DEV_ISSUER_PORT"):
        monkeypatch.setenv(moved, str(free_port()))  # away from a `make run` on this machine, should it start
    monkeypatch.delenv("STYRKEDJA_POSTGRES_URL", raising=False)
    monkeypatch.delenv("STYRKEDJA_KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.setenv(variable, value)
    code, output = _run(capsys, "run", "--state-dir", str(tmp_path / "state"))
    assert code == 2, output
    assert output.startswith("cannot start:") and variable in output and "Traceback" not in output, output
    assert not (tmp_path / "state").exists()


def test_replay_refuses_an_empty_topic_instead_of_replaying_every_topic(capsys, monkeypatch) -> None:
    """Failed on the old code: `--topic ""` (an unset `--topic "$TOPIC"`) was taken as no --topic, and every
    topic's rows were marked for republishing."""
    monkeypatch.setenv("STYRKEDJA_DATABASE_URL", "postgresql+asyncpg://u@127.0.0.1:9/styrkedja_assessment")
    code, output = _exit(capsys, "replay", "--since", "2026-01-01T00:00:00Z", "--topic", "")
    assert code == 2, output
    assert "unknown topic" in output and "all topics" not in output, output


def test_the_images_entry_points_say_a_refused_setting_in_one_line_too(capsys, monkeypatch) -> None:
    """Failed on the old code: `python -m styrkedja_kit replay …` and `python -m styrkedja_reporting.rebuild` (the
    container images' Jobs) showed pydantic's ValidationError as a traceback."""
    from styrkedja_kit.__main__ import main as kit_main
    from styrkedja_reporting.rebuild.command import main as rebuild_main

    monkeypatch.setenv("STYRKEDJA_DATABASE_URL", "postgresql+asyncpg://u@127.0.0.1:9/styrkedja_reporting")
    monkeypatch.setenv("STYRKEDJA_DATABASE_POOL_SIZE", "abc")
    for run in (lambda: kit_main(["replay", "--since", "2026-01-01T00:00:00Z"]), lambda: kit_main(["topics"]),
                lambda: rebuild_main([])):
        code = run()
        output = capsys.readouterr().err
        assert code == 2, output
        assert [line for line in output.splitlines() if "STYRKEDJA_DATABASE_POOL_SIZE" in line] == [
            next(line for line in output.splitlines() if line.endswith(
                "error: setting STYRKEDJA_DATABASE_POOL_SIZE: Input should be a valid integer, unable to parse "
                "string as an integer"))], output


@pytest.mark.parametrize("argv", [["demo", "--students", "50", "--skip-import", "--dump-dir"],
                                  ["demo", "--students", "50", "--skip-import", "--state-dir"],
                                  ["token", "--role", "ops", "--state-dir"], ["run", "--state-dir"]])
@pytest.mark.parametrize("empty", ["", " "])
def test_an_empty_folder_option_is_refused_not_taken_as_the_current_folder(argv: list[str], empty: str, capsys,
                                                                           monkeypatch, tmp_path: Path) -> None:
    """Failed on the old code: `demo --dump-dir ""` (an unset `"$DIR"`) wrote its six JSON files into the current
    folder, over any of those names; `run --state-dir ""` would have put PostgreSQL's data there."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STYRKEDJA_BROKER", "bogus")  # should `run` get past the option: it stops before starting
    code, output = _run(capsys, *argv, empty)
    assert code == 2, output
    assert argv[-1] in output and "is empty" in " ".join(output.split()), output
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_mid_rebuild_says_what_was_left_and_a_rerun_works(tmp_path: Path) -> None:
    """Failed on the old code: Ctrl-C while `python -m styrkedja_reporting.rebuild` (the image's Job, and
    `styrkedja rebuild reporting` below it) waited for its database ended in KeyboardInterrupt's traceback."""
    for _ in range(2):
        server = _Silent()  # each run's own (see the test above: a run's later connections ended the next one's wait)
        env = {"STYRKEDJA_DATABASE_URL": f"postgresql+asyncpg://u@127.0.0.1:{server.port}/styrkedja_reporting",
               "STYRKEDJA_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{server.port}"}
        try:
            code, output = _interrupted(["--no-dead-letter", "--decoders", "0"], env, server, tmp_path,
                                        ("-m", "styrkedja_reporting.rebuild"))
        finally:
            server.close()
        assert code == 130, output
        assert "interrupted (Ctrl-C)" in output and "Traceback" not in output, output


@pytest.mark.parametrize("silent", ["--assessment-url", "--forecast-url", "--lika-url", "--reporting-url"])
def test_demo_names_the_service_that_never_answers_in_one_line_before_writing_anything(silent: str, capsys, monkeypatch,
                                                                                      tmp_path: Path) -> None:
    """Failed on the old code: a service that accepts and says nothing was a bare "ReadTimeout:" after 120 s (the
    dump written): not which service, not after how long, not what sets its address. Now the first contact of each
    is bounded by STYRKEDJA_CONNECT_TIMEOUT_SECONDS, as for the ops commands."""
    server, answering = _Silent(), _Answering(404, b"{}", "application/json")  # each run's own
    monkeypatch.setenv("STYRKEDJA_CONNECT_TIMEOUT_SECONDS", "1")
    urls = dict.fromkeys(("--assessment-url", "--forecast-url", "--lika-url", "--reporting-url"), answering.url)
    urls[silent] = f"http://127.0.0.1:{server.port}"
    try:
        code, output = _run(capsys, "demo", "--students", "50", "--dump-dir", str(tmp_path / "dump"), "--state-dir",
                            str(tmp_path / "none"), *(x for pair in urls.items() for x in pair))
    finally:
        server.close()
        answering.close()
    assert code == 1, output
    said = [line for line in output.splitlines() if "did not answer" in line]
    assert len(said) == 1, output
    assert (f"at http://127.0.0.1:{server.port}" in said[0] and "within 1 s" in said[0]
            and "STYRKEDJA_CONNECT_TIMEOUT_SECONDS" in said[0] and f"its address is set by {silent}" in said[0]), output
    assert "Traceback" not in output and "ReadTimeout" not in output, output
    assert not (tmp_path / "dump").exists()


class _HealthyThenSilent:
    """A service that answers its probe (`/healthz`) and then nothing: a service hanging mid-way. Its handler's
    errors are quiet (the client gives up on it: a reset's traceback would land in capsys)."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.done = done = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                if self.path != "/healthz":
                    done.wait(60)  # silent until the test ends
                    return
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = do_PUT = do_PATCH = _answer

            def log_message(self, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: object, client_address: object) -> None:
                pass

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.done.set()
        self.server.shutdown()
        self.server.server_close()


def test_demo_names_a_service_gone_silent_mid_way_and_its_wait(capsys, monkeypatch, tmp_path: Path) -> None:
    """Failed on the old code: "demo stopped: ReadTimeout:  — is the system running" (after 120 s; the wait is made
    1 s here): not which service, nor how long it was waited for."""
    import httpx

    from styrkedja_demo import publisher

    monkeypatch.setattr(publisher, "TIMEOUT", httpx.Timeout(1.0), raising=False)
    monkeypatch.setattr(publisher, "client", lambda base_url, token=None, **kw: httpx.AsyncClient(
        base_url=base_url.rstrip("/"), timeout=1.0, **kw))
    server = _HealthyThenSilent()
    try:
        code, output = _run(capsys, "demo", "--students", "50", "--dump-dir", str(tmp_path / "dump"), "--state-dir",
                            str(tmp_path / "none"), "--skip-import", "--assessment-url", server.url,
                            "--forecast-url", server.url, "--lika-url", server.url)
    finally:
        server.close()
    flat = " ".join(output.split())
    assert code == 1, output
    assert (f"the assessment service at {server.url} did not answer within 1 s (ReadTimeout)" in flat
            and "its address is set by --assessment-url" in flat and "running the demo again completes it" in flat), output
    assert "Traceback" not in output, output


def test_a_service_gone_silent_behind_one_url_for_all_is_named_by_what_was_asked() -> None:
    """One URL for every service (a proxy in front): the path of the request that got no answer names the service;
    the first at the URL (assessment) was named for a silent LIKA."""
    import httpx

    from styrkedja_cli.demo import _unanswered_midway

    url = "http://proxy.test"
    peers = {"assessment": (url, "--assessment-url"), "forecast": (url, "--forecast-url"), "LIKA": (url, "--lika-url")}
    error = httpx.ReadTimeout("timed out", request=httpx.Request("POST", f"{url}/v1/self-assessments"))
    said = _unanswered_midway(error, peers, httpx.Timeout(120))
    assert said.startswith(f"the LIKA service at {url} did not answer within 120 s (ReadTimeout)"), said
    assert "its address is set by --lika-url" in said, said


def test_import_names_a_silent_reporting_in_one_line_before_reading_the_source(capsys, monkeypatch,
                                                                               tmp_path: Path) -> None:
    """`styrkedja import ss12000 --dir …` against a reporting that accepts and says nothing (the default
    --reporting-url, something else listening there): failed on the old code, which read the whole source and then
    waited 6 attempts of 120 s before a word. Now its first contact is bounded by STYRKEDJA_CONNECT_TIMEOUT_SECONDS:
    one line naming reporting, its URL, the wait and what sets the address; nothing sent."""
    server = _Silent()
    monkeypatch.setenv("STYRKEDJA_CONNECT_TIMEOUT_SECONDS", "1")
    from .test_ss12000_gaps import dump

    try:
        code, output = _run(capsys, "import", "ss12000", *dump(tmp_path), "--reporting-url",
                            f"http://127.0.0.1:{server.port}")
    finally:
        server.close()
    assert code == 1, output
    said = [line for line in output.splitlines() if "did not answer" in line]
    assert len(said) == 1, output
    assert (f"reporting at http://127.0.0.1:{server.port}" in said[0] and "within 1 s" in said[0]
            and "STYRKEDJA_CONNECT_TIMEOUT_SECONDS" in said[0] and "--reporting-url" in said[0]), output
    assert "Traceback" not in output, output
