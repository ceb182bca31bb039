"""``python -m jango.sandbox.cybos script.py``: the CYBOS script runner (:mod:`.run`)."""

from __future__ import annotations

from jango.sandbox.cybos.run import main

raise SystemExit(main())
