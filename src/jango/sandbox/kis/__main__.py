"""``python -m jango.sandbox.kis``: the same as ``jango sandbox kis``."""

from jango.sandbox.kis.command import main

raise SystemExit(main())
