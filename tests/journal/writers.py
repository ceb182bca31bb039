"""Run a test module's journal tests against both writers: the thread and the process.

A module opts in with ``from tests.journal.writers import both_writers  # noqa: F401``; each of
its tests then runs twice, once with ``Journal`` as it is and once with the module's ``Journal``
name bound to :class:`~jango.journal.process.ProcessJournal`, which must behave the same.
"""

from __future__ import annotations

import pytest

from jango.journal.process import ProcessJournal


@pytest.fixture(params=["thread", "process"], autouse=True)
def both_writers(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "process":
        monkeypatch.setattr(request.module, "Journal", ProcessJournal)
    return str(request.param)
