"""Fixtures of the view tests."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from tests.views.test_terminal import Tmux


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    """A private tmux server for one test, killed after it."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (CI installs it); the real-terminal test needs it")
    t = Tmux(f"jango-test-{os.getpid()}")
    yield t
    subprocess.run(["tmux", "-L", t.socket, "kill-server"], capture_output=True, check=False)
