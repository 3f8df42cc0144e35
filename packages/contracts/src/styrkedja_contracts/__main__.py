"""``python -m styrkedja_contracts export|check``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .export import DEFAULT_ROOT, check, export


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m styrkedja_contracts", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_export = sub.add_parser("export", help="write schemas/*.json and asyncapi.yaml")
    p_export.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="packages/contracts directory")
    p_check = sub.add_parser("check", help="fail if the committed artefacts are stale or incompatible")
    p_check.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="packages/contracts directory")
    p_check.add_argument("--base-ref", default=None, help="also compare against the schemas at this git ref")
    p_check.add_argument("--history", action="store_true",
                         help="also compare against every version of the schemas in the git history")
    args = parser.parse_args(argv)

    if args.command == "export":
        for path in export(args.root):
            print(f"wrote {path}")
        return 0
    problems = check(args.root, base_ref=args.base_ref, history=args.history)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"contracts check failed: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print("contracts check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
