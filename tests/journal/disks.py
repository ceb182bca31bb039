"""Real disk faults for journal tests: a tiny file system that fills up, and read-only media.

As root (where ``mount`` works) these are real tmpfs mounts: a tiny one that fills up, and one
remounted read-only. Otherwise the full disk is SQLite's own size cap (``Journal(max_bytes=...)``,
which SQLite reports exactly as a full disk) and read-only means file modes, which bind a
non-root user. Root ignores file modes, so a root run without ``mount`` skips read-only tests.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest


def _mount_tmpfs(point: Path, size_kib: int) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(point)],
        capture_output=True,
    )
    return done.returncode == 0


@dataclass
class Media:
    """A folder for journals; ``options`` make a journal small where the disk itself is not."""

    folder: Path
    mounted: bool
    options: dict[str, int] = field(default_factory=dict)

    def make_read_only(self) -> None:
        """From now on nothing in the folder can be written (the files stay readable)."""
        if self.mounted:
            subprocess.run(["mount", "-o", "remount,ro", str(self.folder)], check=True)
            return
        if os.geteuid() == 0:
            pytest.skip("root ignores file modes and cannot mount here")
        for path in [self.folder, *self.folder.iterdir()]:
            path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))

    def make_file_read_only(self, path: Path) -> None:
        """Only ``path`` becomes read-only (its folder stays writable)."""
        if os.geteuid() == 0:
            if shutil.which("mount") is None:
                pytest.skip("root ignores file modes and cannot mount here")
            subprocess.run(["mount", "--bind", str(path), str(path)], check=True)
            subprocess.run(["mount", "-o", "remount,ro,bind", str(path)], check=True)
            self._binds.append(path)
            return
        path.chmod(0o444)

    def __post_init__(self) -> None:
        self._binds: list[Path] = []

    def release(self) -> None:
        for path in reversed(self._binds):
            subprocess.run(["umount", str(path)], check=False)
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.folder)], check=True)
        else:
            for path in [self.folder, *self.folder.iterdir()]:
                path.chmod(path.stat().st_mode | stat.S_IWUSR)


@contextlib.contextmanager
def media(tmp_path: Path, size_kib: int = 8192) -> Iterator[Media]:
    """A folder on its own file system of ``size_kib`` KiB where possible."""
    point = tmp_path / "media"
    point.mkdir()
    mounted = _mount_tmpfs(point, size_kib)
    disk = Media(point, mounted, {} if mounted else {"max_bytes": size_kib * 1024})
    try:
        yield disk
    finally:
        disk.release()
