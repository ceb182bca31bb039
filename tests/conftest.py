"""Every test runs with its own data dir unless it sets one: journals, token caches and the
running session's socket (``<data dir>/<name>.sock``) never reach the user's real one, and a
``jango run`` started by one test run is never attached to by another's ``jango order``."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True, scope="session")
def private_data_dir() -> Iterator[None]:
    if "JANGO_DATA_DIR" in os.environ:
        yield
        return
    # Short, under /tmp: a Unix socket's path holds at most 107 bytes.
    folder = tempfile.mkdtemp(prefix="jango-", dir="/tmp")
    os.environ["JANGO_DATA_DIR"] = folder
    try:
        yield
    finally:
        del os.environ["JANGO_DATA_DIR"]
        shutil.rmtree(folder, ignore_errors=True)
