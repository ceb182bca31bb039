"""A journal that fails under a running session is shown in the session's status at once, the
book goes on in memory, and the session ends as failed (a non-zero exit for the commands)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from jango.brokers.sim.broker import SimBroker
from jango.engine import Session
from jango.journal import Journal
from jango.journal.restart import open_session_with_journal
from jango.journal.schema import JournalError
from jango.supervisor import Problem
from tests.journal.disks import media


def journal_problems(session: Session) -> list[Problem]:
    return [p for p in session.status.problems if p.task == "journal"]


async def run_until_the_disk_fills(folder: Path, options: dict[str, int]) -> None:
    journal = Journal(folder / "j.sqlite", **options)  # type: ignore[arg-type]
    broker = SimBroker(seed=5, tick_interval=0.002, demo_trader=True, demo_period=0.01)
    session = open_session_with_journal(broker, journal)
    async with session:
        for _ in range(6000):
            if journal_problems(session):
                break
            await asyncio.sleep(0.01)
        [problem] = journal_problems(session)
        assert session.status.degraded and problem.permanent
        assert "j.sqlite" in problem.error and "full" in problem.error
        ticks = session.stats.ticks
        for _ in range(500):
            await asyncio.sleep(0.01)
            if session.stats.ticks > ticks:
                break
        assert session.stats.ticks > ticks  # the book still follows the market in memory
    assert [f.task for f in session.failures] == ["journal"]
    journal.close()  # what the commands do last: the failure is their exit


def test_a_disk_that_fills_under_a_session_shows_degraded_and_ends_as_failed(
    tmp_path: Path,
) -> None:
    with media(tmp_path, size_kib=160) as disk, pytest.raises(JournalError, match="full"):
        asyncio.run(run_until_the_disk_fills(disk.folder, disk.options))
