"""`python -m styrkedja_kit` (and `styrkedja migrate|replay|topics`) given hostile arguments: a message naming what
is wrong and a usage exit (2), never a traceback, and no personal identity number repeated. Round 17: each case
below raised (a traceback) or repeated the number on the old code, as said at it. No database, no broker: every
one is refused before either is asked."""

from __future__ import annotations

import pytest

from styrkedja_kit.__main__ import EXIT_USAGE, main


def _run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *argv: str) -> tuple[int, str]:
    monkeypatch.setenv("STYRKEDJA_DATABASE_URL", "postgresql+asyncpg://nobody@127.0.0.1:1/none")
    try:
        code = main(list(argv), prog="styrkedja")
    except SystemExit as exit_:  # argparse's usage errors
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.mark.parametrize("package", [
    "../../etc",  # ImportError: a relative module name
    "os",  # TypeError: 'os' is not a package
    "os.path",  # a module of a module
    "",  # ValueError: empty module name
])
def test_migrate_names_a_package_that_is_none_of_the_services(capsys, monkeypatch, package: str) -> None:
    code, said = _run(capsys, monkeypatch, "migrate", package)
    assert code == EXIT_USAGE and "no installed package" in said and "Traceback" not in said


@pytest.mark.parametrize("wait", ["nan", "inf", "-5"])
def test_migrate_waits_a_finite_time(capsys, monkeypatch, wait: str) -> None:
    """`--wait inf` checked for ever, `-5` and `nan` not at all, as `float` took them."""
    code, said = _run(capsys, monkeypatch, "migrate", "styrkedja_assessment", "--check", "--wait", wait)
    assert code == EXIT_USAGE and "--wait" in said and "0 or more" in said


@pytest.mark.parametrize("since", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"])
def test_replay_since_a_time_utc_cannot_hold_is_a_usage_error(capsys, monkeypatch, since: str) -> None:
    """Old code: an OverflowError traceback from the progress line's `astimezone(UTC)`."""
    code, said = _run(capsys, monkeypatch, "replay", "--since", since)
    assert code == EXIT_USAGE and "outside the years UTC can hold" in said and "Traceback" not in said


def test_replay_repeats_no_personal_identity_number_and_suggests_real_times(capsys, monkeypatch) -> None:
    """Old code: `--since 19121212-1212` (read by `fromisoformat` as 1912-12-12T12:12) was repeated four times in
    the message, `--topic 19121212-1212` once; `--since 2026-01-01` was told to try `2026-01-01+01:00`, no time
    either."""
    code, said = _run(capsys, monkeypatch, "replay", "--since", "19121212-1212")
    assert code == EXIT_USAGE and "1212" not in said and "no time zone" in said
    code, said = _run(capsys, monkeypatch, "replay", "--since", "2026-01-01T00:00Z", "--topic", "19121212-1212")
    assert code == EXIT_USAGE and "1212" not in said and "unknown topic" in said
    code, said = _run(capsys, monkeypatch, "replay", "--since", "2026-01-01")
    assert code == EXIT_USAGE and "e.g. 2026-01-01T00:00:00+01:00" in said


def test_topics_names_a_group_no_topic_can_be_named_after(capsys, monkeypatch) -> None:
    """Old code: the contracts' ValueError as a traceback."""
    code, said = _run(capsys, monkeypatch, "topics", "--dead-letter-group", "a b")
    assert code == EXIT_USAGE and "--dead-letter-group 'a b'" in said and "Traceback" not in said


@pytest.mark.parametrize("group", ["reporting-19121212-1212", "elev_19121212_1212"])
def test_topics_refuses_a_group_holding_a_personal_identity_number(capsys, monkeypatch, group: str) -> None:
    """Round 18. Old code: the group fits `[A-Za-z0-9._-]`, so the command went on to make the topic
    `styrkedja.dlq.reporting-19121212-1212` on the broker (its name kept the number for as long as it lives)."""
    code, said = _run(capsys, monkeypatch, "topics", "--dead-letter-group", group)
    assert code == EXIT_USAGE and "no_personal_identity_number" in said, said
    assert "1212" not in said and "Traceback" not in said
