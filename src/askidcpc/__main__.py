"""``python -m askidcpc``: the same as the ``askidcpc`` command."""

from askidcpc.edges.launch import main

raise SystemExit(main())
