"""``python -m tests.chaos`` (``make chaos``): the long chaos run; see ``run.py``."""

from tests.chaos.cli import main

raise SystemExit(main())
