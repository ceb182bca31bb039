"""``python -m jango.sandbox.cybos_run script.py``: the documented name of the CYBOS script runner.

The runner lives in :mod:`jango.sandbox.cybos.run` (``python -m jango.sandbox.cybos`` runs it
too); this module keeps the name that users' commands and ``jango sandbox cybos`` use.
"""

from __future__ import annotations

from jango.sandbox.cybos.run import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
