#!/usr/bin/env bash
# Creates the peer benchmark's own environment: jango (editable, from this checkout) beside
# NautilusTrader from PyPI, so both run in one process on the same ticks. NautilusTrader is
# never a dependency of jango; this venv is the only place it is installed.
#
#   bash benchmarks/peer/setup.sh            # then:
#   benchmarks/peer/.venv/bin/python benchmarks/peer/bench_nautilus.py
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
python="${PYTHON:-python3}"
"$python" -m venv "$here/.venv"
"$here/.venv/bin/pip" install -q --upgrade pip
"$here/.venv/bin/pip" install -q -e "$root" "nautilus_trader${NAUTILUS_VERSION:+==$NAUTILUS_VERSION}"
"$here/.venv/bin/python" -c "import nautilus_trader, jango; print('nautilus_trader', nautilus_trader.__version__)"
