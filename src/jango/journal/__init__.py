"""The journal: a durable SQLite event log, checkpoints, the restart fence and recovery.

``store`` writes and reads the log; ``process`` runs its writer in a process of its own
(``writer`` is that process, ``pipe`` the wire to it, ``lock`` keeps one writer per file);
``schema`` opens and checks the file, ``checkpoint`` turns a
book into JSON and back, ``fence`` keeps notices a snapshot already holds from applying twice,
``restart`` rebuilds a session from the log, ``recover`` salvages a damaged file and ``cli``
holds the ``jango journal`` and ``jango why`` commands.
"""

from jango.journal.schema import JournalCorrupt, JournalDiskError, JournalError
from jango.journal.store import (
    EVENT_KINDS,
    KINDS,
    Entry,
    Journal,
    JournalHealth,
    RebuildStats,
    default_path,
    read_entries,
)

__all__ = [
    "EVENT_KINDS",
    "KINDS",
    "Entry",
    "Journal",
    "JournalCorrupt",
    "JournalDiskError",
    "JournalError",
    "JournalHealth",
    "RebuildStats",
    "default_path",
    "read_entries",
]
