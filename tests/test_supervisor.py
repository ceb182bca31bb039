"""The supervisor on real asyncio tasks: restarts with back-off, recovery, giving up, stopping."""

from __future__ import annotations

import asyncio
import functools

import pytest

from jango.config import ConfigError
from jango.supervisor import Backoff, Problem, Supervisor

QUICK = Backoff(initial=0.001, factor=2.0, maximum=0.01, attempts=3, healthy_after=0.05)


class Heard:
    """What a supervisor told its listener, in order."""

    def __init__(self, supervisor: Supervisor) -> None:
        self.deaths: list[Problem] = []
        self.recoveries: list[str] = []
        supervisor.listen(self.hear)

    def hear(self, task: str, problem: Problem | None, error: BaseException | None) -> None:
        if problem is None:
            self.recoveries.append(task)
        elif error is not None:
            self.deaths.append(problem)


async def until(condition: object, limit: int = 5000) -> None:
    assert callable(condition)
    for _ in range(limit):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("condition not reached")


async def test_a_task_that_dies_twice_is_restarted_and_then_counts_as_recovered() -> None:
    supervisor = Supervisor(QUICK)
    heard = Heard(supervisor)
    runs: list[int] = []
    settled = asyncio.Event()

    async def flaky() -> None:
        runs.append(len(runs) + 1)
        if len(runs) <= 2:
            raise ConnectionResetError(f"run {len(runs)} lost its socket")
        settled.set()
        await asyncio.Event().wait()

    supervisor.spawn("reader", flaky)
    await settled.wait()
    assert runs == [1, 2, 3]
    assert [p.error for p in heard.deaths] == [
        "ConnectionResetError: run 1 lost its socket",
        "ConnectionResetError: run 2 lost its socket",
    ]
    assert [p.restarts for p in heard.deaths] == [1, 2]
    assert heard.deaths[0].since == heard.deaths[1].since  # one run of failures, one "since"
    assert "reader" in supervisor.problems  # shown until the third run has lasted
    await until(lambda: heard.recoveries == ["reader"])
    assert supervisor.problems == {}
    assert supervisor.failures == ()
    assert len(supervisor.incidents) == 2
    assert await supervisor.stop() == ()


async def test_a_task_that_keeps_dying_is_given_up_after_its_restarts_and_stays_reported() -> None:
    supervisor = Supervisor(QUICK)
    heard = Heard(supervisor)
    runs = 0

    async def broken() -> None:
        nonlocal runs
        runs += 1
        raise ValueError("balance changed while paging")

    handle = supervisor.spawn("pump", broken)
    await until(lambda: handle.done)
    assert runs == QUICK.attempts + 1
    [failure] = supervisor.failures
    assert failure.permanent
    assert failure.task == "pump"
    assert failure.restarts == QUICK.attempts
    assert "given up after 3 restarts: ValueError: balance changed while paging" in (
        failure.describe()
    )
    assert supervisor.problems == {"pump": failure}
    assert [p.permanent for p in heard.deaths] == [False, False, False, True]
    assert await supervisor.stop() == (failure,)


async def test_a_task_spawned_without_restart_is_given_up_at_its_first_death() -> None:
    supervisor = Supervisor(QUICK)
    runs = 0

    async def once() -> None:
        nonlocal runs
        runs += 1
        raise RuntimeError("no")

    handle = supervisor.spawn("one-shot", once, restart=False)
    await until(lambda: handle.done)
    assert runs == 1
    assert [f.task for f in supervisor.failures] == ["one-shot"]


async def test_a_task_that_returns_is_done_and_not_restarted() -> None:
    supervisor = Supervisor(QUICK)
    runs = 0

    async def job() -> None:
        nonlocal runs
        runs += 1

    handle = supervisor.spawn("job", job)
    await until(lambda: handle.done)
    await asyncio.sleep(QUICK.maximum * 2)
    assert runs == 1
    assert supervisor.problems == {}
    assert supervisor.failures == ()


async def test_stop_ends_running_tasks_and_tasks_waiting_to_restart() -> None:
    slow = Backoff(initial=60.0, maximum=60.0, attempts=5)
    supervisor = Supervisor(slow)
    cancelled = asyncio.Event()

    async def forever() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()

    async def dies() -> None:
        raise OSError("disk gone")

    running = supervisor.spawn("forever", forever)
    waiting = supervisor.spawn("dies", dies)
    await until(lambda: "dies" in supervisor.problems)
    assert await supervisor.stop() == ()  # the restart never came, but nothing was given up
    assert cancelled.is_set()
    assert running.done and waiting.done
    assert supervisor.problems["dies"].restarts == 1
    with pytest.raises(RuntimeError, match="stopping"):
        supervisor.spawn("late", forever)


async def test_a_listener_that_raises_does_not_stop_the_supervision() -> None:
    supervisor = Supervisor(QUICK)
    heard = Heard(supervisor)

    def broken(task: str, problem: Problem | None, error: BaseException | None) -> None:
        raise KeyError("listener bug")

    supervisor.listen(broken)

    async def dies() -> None:
        raise ValueError("x")

    handle = supervisor.spawn("t", dies)
    await until(lambda: handle.done)
    assert len(heard.deaths) == QUICK.attempts + 1


def test_back_off_grows_by_its_factor_up_to_the_maximum() -> None:
    backoff = Backoff(initial=0.1, factor=2.0, maximum=1.0, attempts=8)
    assert [backoff.delay(n) for n in range(1, 7)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]


def test_back_off_is_read_from_settings_and_bad_values_are_one_clear_error() -> None:
    backoff = Backoff.from_settings({"restart.attempts": "2", "restart_initial": "0.5"})
    assert (backoff.attempts, backoff.initial, backoff.maximum) == (2, 0.5, Backoff().maximum)
    with pytest.raises(ConfigError, match=r"restart\.attempts must be a whole number, not 'x'"):
        Backoff.from_settings({"restart.attempts": "x"})
    with pytest.raises(ConfigError, match=r"restart\.initial must be a finite number"):
        Backoff.from_settings({"restart.initial": "nan"})
    with pytest.raises(ConfigError, match=r"restart\.attempts must be ≥ 0"):
        Backoff.from_settings({"restart.attempts": "-1"})


async def test_a_task_that_dies_before_it_is_ready_is_given_up_however_long_its_start_up() -> None:
    supervisor = Supervisor(QUICK)
    runs = 0

    async def slow_start_that_fails() -> None:
        nonlocal runs
        runs += 1
        await asyncio.sleep(QUICK.healthy_after * 1.5)  # longer than a healthy run
        raise TimeoutError("start-up step failed")

    handle = supervisor.spawn("pump", slow_start_that_fails, wait_ready=True)
    await until(lambda: handle.done, limit=20_000)
    assert runs == QUICK.attempts + 1
    assert [f.task for f in supervisor.failures] == ["pump"]


async def test_a_ready_run_that_lasts_clears_the_problem_and_starts_a_new_count() -> None:
    supervisor = Supervisor(QUICK)
    heard = Heard(supervisor)
    runs = 0
    second_streak = asyncio.Event()

    async def dies_then_lasts_then_dies() -> None:
        nonlocal runs
        runs += 1
        if runs == 1:
            raise ValueError("first")
        handle.ready()
        if runs == 2:
            await until(lambda: heard.recoveries == ["pump"])
            raise ValueError("later")
        second_streak.set()
        await asyncio.Event().wait()

    handle = supervisor.spawn("pump", dies_then_lasts_then_dies, wait_ready=True)
    await second_streak.wait()
    first, later = heard.deaths
    assert (first.restarts, later.restarts) == (1, 1)  # the count started over
    assert later.since > first.since
    await supervisor.stop()


async def test_a_part_that_is_not_a_task_can_be_reported_down_and_cleared() -> None:
    supervisor = Supervisor(QUICK)
    heard = Heard(supervisor)
    loop = asyncio.get_running_loop()
    done = asyncio.Event()

    def writer_thread() -> None:
        # A thread hands its failure to the loop; the supervisor is not thread-safe.
        disk_full = OSError(28, "No space left")
        loop.call_soon_threadsafe(
            functools.partial(supervisor.report, "journal writer", disk_full, permanent=False)
        )
        loop.call_soon_threadsafe(done.set)

    await asyncio.to_thread(writer_thread)
    await done.wait()
    [problem] = heard.deaths
    assert problem.task == "journal writer" and "No space left" in problem.error
    assert supervisor.problems == {"journal writer": problem}
    supervisor.clear("journal writer")
    assert supervisor.problems == {} and heard.recoveries == ["journal writer"]
    assert supervisor.failures == ()
    gone = supervisor.report("journal", OSError("read-only file system"))
    assert supervisor.failures == (gone,) and gone.permanent
