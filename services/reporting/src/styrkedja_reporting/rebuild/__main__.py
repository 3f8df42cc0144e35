"""`python -m styrkedja_reporting.rebuild`: see `command`."""

from .command import main

if __name__ == "__main__":
    raise SystemExit(main())
