"""`python -m styrkedja_reporting.rebuild`: see `command`."""

from .command import main

raise SystemExit(main())
