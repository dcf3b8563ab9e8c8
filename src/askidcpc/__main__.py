"""``python -m askidcpc``: the same as the ``askidcpc`` command."""

from askidcpc.edges.cli import main

raise SystemExit(main())
