"""``python -m hub.cli``: what the ``threadline`` script runs."""

from hub.cli import main

raise SystemExit(main())
