"""``python -m jango.cli``: the ``jango`` command."""

import sys

from jango.cli import main

sys.exit(main())
