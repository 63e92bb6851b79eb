"""`python -m mlcore` is the same as the `mlcore` command."""

from mlcore.cli import main

raise SystemExit(main())
