"""The journal's SQLite schema, its version (``PRAGMA user_version``) and the migrations to it.

Version 1 kept events (snapshots, ticks, notices, errors and discrepancies in one sequence) and
nothing else. Version 2 adds the ``reflected`` flag of fills a broker snapshot already held, the
``checkpoints`` table of book states, and indexes for ``jango journal`` filters. A file of a newer
version than this code knows is refused with :class:`JournalVersionError`, never rewritten.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

CURRENT_VERSION = 2

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


class JournalError(Exception):
    """A journal that cannot be opened, read or written; the message says what to do."""


class JournalVersionError(JournalError):
    """The file was written by a newer jango whose schema this code does not know."""


class JournalCorrupt(JournalError):
    """The file is not a SQLite database or its pages are damaged or missing."""


def _run(db: sqlite3.Connection, script: str) -> None:
    # executescript() would commit the open transaction; run statements one by one inside it.
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def _migrate_1_to_2(db: sqlite3.Connection) -> None:
    _run(db, _V1_TO_V2)


# Each entry upgrades a file from the version it is keyed by to the next one.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _migrate_1_to_2}


def corrupt_message(path: Path, exc: BaseException) -> str:
    return (
        f"journal {path} is corrupted or truncated ({exc}); copy what is readable with "
        f"`jango journal --path {path} --recover OUT.sqlite`"
    )


@contextlib.contextmanager
def damage_reported(path: Path) -> Iterator[None]:
    """Turn SQLite's "malformed" / "not a database" errors into :class:`JournalCorrupt`."""
    try:
        yield
    except sqlite3.OperationalError:
        raise  # locked, read-only, out of disk: not damage
    except sqlite3.DatabaseError as exc:
        raise JournalCorrupt(corrupt_message(path, exc)) from exc


def connect(path: Path, *, create: bool = True) -> sqlite3.Connection:
    """Open ``path`` with the journal's pragmas, creating or migrating its schema as needed.

    With ``create=False`` a missing file is an error instead of a new journal.
    ``check_same_thread`` is off because the writer thread owns the connection after opening.
    """
    if not create and not path.exists():
        raise JournalError(f"no journal at {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with damage_reported(path):
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
        db.execute("ROLLBACK")
        raise
