"""One writer per journal file, across processes: an advisory lock beside it.

A journal's writer may outlive the session that started it: the writer process drains what it
was sent after its session was killed. A restarted session must not open the journal until
that writer is done, or it would rebuild its book from a log that is still growing, and two
writers would interleave their rows. So a writer holds ``<journal>.lock`` (``flock``, released
by the kernel when the last process holding it ends, however it ends) and a new writer waits
for it, for a bounded time, then says who holds it.

On systems without ``fcntl`` (Windows) no lock is taken.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from jango.journal.schema import JournalError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

# A draining writer needs at most about a second for a full queue; wait well beyond that.
WAIT_S = 30.0
_POLL_S = 0.02


class JournalLocked(JournalError):
    """Another live process is writing the journal (or still draining it)."""


def lock_path(journal: Path) -> Path:
    """The lock file of the journal at ``journal``: ``<journal>.lock``."""
    return journal.with_name(f"{journal.name}.lock")


def hold(journal: Path, *, wait_s: float = WAIT_S) -> int | None:
    """Take the journal's lock and return its file descriptor (close it to let go).

    Waits up to ``wait_s`` for a writer that still holds it, then raises :class:`JournalLocked`
    naming the process. Returns None where no lock can be taken: no ``fcntl``, or a folder that
    cannot hold the lock file (the journal itself then fails to open, and says why).
    """
    if fcntl is None:  # pragma: no cover - Windows
        return None
    path = lock_path(journal)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        return None
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                holder = _holder(fd)
                os.close(fd)
                raise JournalLocked(
                    f"journal {journal} is being written by another process{holder}; "
                    f"waited {wait_s:g} s for it to finish"
                ) from None
            time.sleep(_POLL_S)
        except OSError:
            os.close(fd)  # a file system without locks: go on without one
            return None
    name(fd)
    return fd


def name(fd: int) -> None:
    """Write this process's id into the lock held at ``fd``: who holds it, for the message a
    waiting writer gives (the writer process names itself once it has the lock)."""
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)


def _holder(fd: int) -> str:
    with contextlib.suppress(OSError, ValueError):
        pid = int(os.pread(fd, 32, 0).decode().strip())
        return f" (pid {pid})"
    return ""
