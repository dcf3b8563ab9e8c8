"""``python -m askidcpc``: the same as the ``askidcpc`` command."""

from askidcpc.cli import main

raise SystemExit(main())
