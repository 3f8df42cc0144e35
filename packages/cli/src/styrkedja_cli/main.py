"""Wiring of the `styrkedja` command: every sub-command is defined in its own module.

`run_cli` (the installed script) is the one place that turns what is left of a failure into one line: a setting
in the environment pydantic refuses (one line per variable), Ctrl-C, anything unforeseen; and the one place that
keeps a personal identity number typed by mistake out of a usage error (the terminal, a CI log, a Job's log)."""

from __future__ import annotations

import sys

import typer

from . import demo, ops, rebuild, stack, token
from .options import SettingRefused
from .ss12000 import command as ss12000

#: `-h` too: the ops commands (argparse) took it and the others answered "No such option: -h"
HELP = {"help_option_names": ["-h", "--help"]}
app = typer.Typer(name="styrkedja", no_args_is_help=True, add_completion=False, context_settings=HELP,
                  help="Styrkedja: the governance chain of Swedish schools, from the student to the nation.")
import_app = typer.Typer(no_args_is_help=True, context_settings=HELP, help="Bring data in from other systems.")
app.add_typer(import_app, name="import")

stack.register(app)
ss12000.register(import_app)
ops.register(app)
rebuild.register(app)
token.register(app)
demo.register(app)

EXIT_FAILED = 1
EXIT_USAGE = 2
#: 128 + SIGINT, as a shell reports a command Ctrl-C stopped (typer turns KeyboardInterrupt into this exit code)
EXIT_INTERRUPTED = 130


def _redacted(text: str) -> str:
    from styrkedja_contracts.identifiers import redact_personal_identity_numbers

    return redact_personal_identity_numbers(text)[0]


def _say(line: str) -> None:
    print(f"styrkedja: {_redacted(line)}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """`styrkedja ARGS…` as an exit code; what went wrong said on stderr, never as a traceback."""
    from pydantic import ValidationError
    from typer import _click, rich_utils
    from typer.exceptions import Abort

    from .reach import Unanswered

    try:
        outcome = app(args=argv, prog_name="styrkedja", standalone_mode=False)
    except SettingRefused as error:  # a variable read by hand: one line, as pydantic's settings below
        _say(error.message)
        return EXIT_USAGE
    except _click.exceptions.ClickException as error:  # a usage error: typer's own box, without a personnummer
        error.message = _redacted(error.message)
        for attribute in ("option_name", "possibilities", "param_hint"):
            value = getattr(error, attribute, None)
            if isinstance(value, str):
                setattr(error, attribute, _redacted(value))
            elif isinstance(value, list):
                setattr(error, attribute, [_redacted(str(v)) for v in value])
        rich_utils.rich_format_error(error)
        return error.exit_code
    except (Abort, KeyboardInterrupt):
        outcome = EXIT_INTERRUPTED
    except Unanswered as error:  # a peer that kept silent or refused: the one rule's line (styrkedja_kit.reach)
        _say(str(error))
        return EXIT_FAILED
    except ValidationError as error:  # mostly STYRKEDJA_* settings the command read from the environment
        from styrkedja_kit.settings import validation_lines

        for line in validation_lines(error):
            _say(line)
        return EXIT_USAGE if str(error.title).endswith("Settings") else EXIT_FAILED
    except Exception as error:  # unforeseen: one line, the kind and the message, no locals, no frames
        _say(f"failed: {type(error).__name__}: {error}")
        return EXIT_FAILED
    code = outcome if isinstance(outcome, int) else 0
    # the ops commands and the rebuild (argparse's, passed through) say what an interruption left themselves
    if code == EXIT_INTERRUPTED and (argv or sys.argv[1:])[:1] not in (["migrate"], ["replay"], ["topics"],
                                                                       ["rebuild"]):
        _say("interrupted (Ctrl-C) before it finished; what it had not committed was rolled back, and running the "
             "same command again is safe")
    return code


def run_cli() -> None:
    sys.exit(main())
