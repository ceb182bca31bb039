"""The journal's SQLite schema, its version (``PRAGMA user_version``) and the migrations to it.

Version 1 kept events (snapshots, ticks, notices, errors and discrepancies in one sequence) and
nothing else. Version 2 adds the ``reflected`` flag of fills a broker snapshot already held, the
``checkpoints`` table of book states, and indexes for ``jango journal`` filters. Version 3 adds the
``meta`` table, whose ``wal`` row says whether the last writer closed the file cleanly (see
:mod:`jango.journal.store`), and makes the filter indexes partial: they leave ticks out. A
file of a newer version than this code knows is refused with :class:`JournalVersionError`, never
rewritten.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

CURRENT_VERSION = 3

V1_SCHEMA = """
CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    at TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    account TEXT NOT NULL DEFAULT '',
    code TEXT NOT NULL DEFAULT '',
    order_no TEXT NOT NULL DEFAULT '',
    body TEXT NOT NULL,
    raw TEXT NOT NULL DEFAULT ''
);
CREATE INDEX events_code ON events (code, seq);
"""

_V1_TO_V2 = """
ALTER TABLE events ADD COLUMN reflected INTEGER NOT NULL DEFAULT 0;
CREATE TABLE checkpoints (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    state TEXT NOT NULL
);
CREATE INDEX events_order ON events (order_no, seq);
CREATE INDEX events_at ON events (at);
CREATE INDEX events_kind ON events (kind, seq);
"""

# Ticks are almost every row and are looked up by sequence only (rebuild, export), so the
# filter indexes leave them out: indexing them cost the writer more than the row itself.
_V2_TO_V3 = """
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
DROP INDEX events_code;
DROP INDEX events_order;
DROP INDEX events_at;
DROP INDEX events_kind;
CREATE INDEX events_code ON events (code, seq) WHERE kind <> 'tick';
CREATE INDEX events_order ON events (order_no, seq) WHERE kind <> 'tick';
CREATE INDEX events_at ON events (at) WHERE kind <> 'tick';
CREATE INDEX events_kind ON events (kind, seq) WHERE kind <> 'tick';
"""


class JournalError(Exception):
    """A journal that cannot be opened, read or written; the message says what to do."""


class JournalVersionError(JournalError):
    """The file was written by a newer jango whose schema this code does not know."""


class JournalCorrupt(JournalError):
    """The file is not a SQLite database or its pages are damaged or missing."""


class JournalDiskError(JournalError):
    """The file or its folder cannot be written: read-only, full, missing or failing."""


def _run(db: sqlite3.Connection, script: str) -> None:
    # executescript() would commit the open transaction; run statements one by one inside it.
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def _migrate_1_to_2(db: sqlite3.Connection) -> None:
    _run(db, _V1_TO_V2)


def _migrate_2_to_3(db: sqlite3.Connection) -> None:
    _run(db, _V2_TO_V3)


# Each entry upgrades a file from the version it is keyed by to the next one.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    1: _migrate_1_to_2,
    2: _migrate_2_to_3,
}

# SQLite's primary result codes (the low byte of an extended code) that mean the disk, not the
# file's content, is at fault.
_SQLITE_PERM, _SQLITE_READONLY, _SQLITE_IOERR, _SQLITE_FULL, _SQLITE_CANTOPEN = 3, 8, 10, 13, 14
_DISK_CAUSES = {
    _SQLITE_PERM: "permission denied",
    _SQLITE_READONLY: "the file or its folder is read-only",
    _SQLITE_IOERR: "the disk reported an I/O error",
    _SQLITE_FULL: "the disk is full",
    _SQLITE_CANTOPEN: "the file cannot be opened (missing folder, no permission or read-only)",
}
_OS_CAUSES = {
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
}


def is_damage(exc: sqlite3.Error) -> bool:
    """Whether SQLite's error says the file's content is damaged (rather than the disk)."""
    if isinstance(exc, sqlite3.OperationalError):
        return False
    return isinstance(exc, sqlite3.DatabaseError) and not _disk_cause(exc)


def _disk_cause(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return _OS_CAUSES.get(exc.errno or 0, exc.strerror or "")
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return _DISK_CAUSES.get(code & 0xFF, "")
    return ""


def fault_message(path: Path, exc: BaseException) -> str:
    """One line naming the journal file, what is wrong with it and SQLite's (or the OS's) words.

    SQLite's own text is kept in parentheses; a follow-on error such as "cannot rollback - no
    transaction is active" never replaces the cause (callers pass the first error).
    """
    if isinstance(exc, sqlite3.Error) and is_damage(exc):
        return corrupt_message(path, exc)
    detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    cause = ""
    if code in (_SQLITE_PERM, _SQLITE_READONLY, _SQLITE_CANTOPEN):
        cause = _why_not_writable(path)
    cause = cause or _disk_cause(exc) or "cannot write"
    return f"journal {path}: {cause} ({detail})"


def _why_not_writable(path: Path) -> str:
    """Name what SQLite's "read-only" / "cannot open" means here, if the file system says."""
    folder = path.parent
    with contextlib.suppress(OSError):
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return "the file system is read-only"
    if not folder.is_dir():
        return f"the folder {folder} does not exist"
    if path.exists() and not os.access(path, os.W_OK):
        return "the file is read-only"
    if not os.access(folder, os.W_OK):
        return f"the folder {folder} is read-only"
    return ""


def disk_error(path: Path, exc: BaseException) -> JournalError:
    """The :class:`JournalError` subclass and one-line message for a failed SQLite/OS call."""
    if isinstance(exc, sqlite3.Error) and is_damage(exc):
        return JournalCorrupt(corrupt_message(path, exc))
    return JournalDiskError(fault_message(path, exc))


def rollback(db: sqlite3.Connection) -> None:
    """Roll back the open transaction, if SQLite has not already done so after a failure.

    SQLite rolls back by itself after some errors (a full disk during COMMIT); a second ROLLBACK
    would then raise "cannot rollback - no transaction is active" and hide the real cause.
    """
    if db.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            db.execute("ROLLBACK")


def corrupt_message(path: Path, exc: BaseException) -> str:
    return (
        f"journal {path} is corrupted or truncated ({exc}); copy what is readable with "
        f"`jango journal --path {path} --recover OUT.sqlite`"
    )


@contextlib.contextmanager
def damage_reported(path: Path) -> Iterator[None]:
    """Turn SQLite's and the OS's errors into one-line :class:`JournalError` subclasses.

    "Malformed" / "not a database" become :class:`JournalCorrupt`; read-only, full, missing or
    failing disks become :class:`JournalDiskError`. Both name the file and the cause.
    """
    try:
        yield
    except sqlite3.Error as exc:
        raise disk_error(path, exc) from exc
    except OSError as exc:
        raise JournalDiskError(fault_message(path, exc)) from exc


def connect(path: Path, *, create: bool = True) -> sqlite3.Connection:
    """Open ``path`` with the journal's pragmas, creating or migrating its schema as needed.

    With ``create=False`` a missing file is an error instead of a new journal.
    ``check_same_thread`` is off because the writer thread owns the connection after opening.
    """
    if not create and not path.exists():
        raise JournalError(f"no journal at {path}")
    with damage_reported(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > CURRENT_VERSION:
                raise JournalVersionError(
                    f"journal {path} has schema version {version}, newer than this jango "
                    f"understands ({CURRENT_VERSION}); upgrade jango to read it"
                )
            db.execute("PRAGMA journal_mode=WAL")
            # Every commit is fsync'd: an acknowledged event survives a crash of the machine,
            # not only of the process.
            db.execute("PRAGMA synchronous=FULL")
            _upgrade(db, version)
        except BaseException:
            db.close()
            raise
    return db


def _upgrade(db: sqlite3.Connection, version: int) -> None:
    """Bring ``db`` from ``version`` to :data:`CURRENT_VERSION` in one transaction."""
    if version == CURRENT_VERSION:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        if version == 0:
            if db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                raise JournalError("file is a SQLite database but not a jango journal")
            _run(db, V1_SCHEMA)
            version = 1
        while version < CURRENT_VERSION:
            MIGRATIONS[version](db)
            version += 1
        db.execute(f"PRAGMA user_version={CURRENT_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        rollback(db)
        raise


def open_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection to ``path``, also where its folder cannot be written.

    A WAL database needs its ``-shm`` file; on read-only media SQLite cannot create it, so the
    fallback opens the file as immutable (no locking; only for reading a journal nobody writes).
    """
    uri = path.resolve().as_uri()
    with damage_reported(path):
        for query in ("mode=ro", "immutable=1"):
            db = sqlite3.connect(f"{uri}?{query}", uri=True, check_same_thread=False)
            try:
                db.execute("SELECT count(*) FROM sqlite_master").fetchone()
                return db
            except sqlite3.OperationalError:
                db.close()
                if query == "immutable=1":
                    raise
            except BaseException:
                db.close()
                raise
    raise AssertionError("unreachable")
