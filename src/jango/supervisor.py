"""Supervised long-running tasks: a task that dies is logged, shown, journaled and restarted.

Every task that must run for as long as a session does (the engine's pump and poll, an
adapter's readers and writers, the web hub, a strategy's own loops) is started with
:meth:`Supervisor.spawn` instead of ``asyncio.create_task``. When one raises:

- the error is logged at once, with its cause (the traceback at debug level);
- a :class:`Problem` naming the task, the error and since when is listed in
  :attr:`Supervisor.problems`, which the session copies into its status for every view;
- listeners (the session) hear of it, so it can be journaled as an error;
- the task is started again after an exponential back-off (:class:`Backoff`). A run that lasts
  ``healthy_after`` seconds counts as recovered: its problem is cleared and the count starts over.
- After ``attempts`` restarts in a row it is given up: the problem stays, marked permanent, in
  :attr:`Supervisor.failures`, and the process is expected to exit non-zero at the end.

Adapters that run their own tasks implement :class:`UsesSupervisor`; the session hands them its
supervisor before it connects, so their failures show in the same status::

    class Adapter:
        def use_supervisor(self, supervisor: Supervisor) -> None:
            self._supervisor = supervisor

        async def connect(self) -> None:
            supervisor = self._supervisor or Supervisor()  # used on its own: still restarted
            self._reader = supervisor.spawn("kis reader", self._read)

        async def close(self) -> None:
            await self._reader.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import traceback
from collections import deque
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from jango.config import ConfigError
from jango.domain.model import KST

log = logging.getLogger("jango.supervisor")

# How many deaths (recovered or not) a supervisor remembers for views and reports.
INCIDENTS_KEPT = 100

TaskFactory = Callable[[], Coroutine[Any, Any, None]]


def _now() -> datetime:
    return datetime.now(KST)


@dataclass(frozen=True, slots=True)
class Backoff:
    """How a task that dies is restarted.

    The first restart waits ``initial`` seconds, each further one ``factor`` times longer, never
    more than ``maximum``. After ``attempts`` restarts in a row the task is given up (0: never
    restarted). A run that lasts ``healthy_after`` seconds counts as recovered.
    """

    initial: float = 0.1
    factor: float = 2.0
    maximum: float = 5.0
    attempts: int = 8
    healthy_after: float = 5.0

    def __post_init__(self) -> None:
        for name in ("initial", "factor", "maximum", "healthy_after"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"restart.{name} must be a finite number ≥ 0, not {value!r}")
        if self.factor < 1:
            raise ValueError(f"restart.factor must be ≥ 1, not {self.factor!r}")
        if self.attempts < 0:
            raise ValueError(f"restart.attempts must be ≥ 0, not {self.attempts!r}")

    def delay(self, restart: int) -> float:
        """Seconds to wait before restart number ``restart`` (1 for the first)."""
        return min(self.maximum, self.initial * self.factor ** max(0, restart - 1))

    @classmethod
    def from_settings(cls, settings: Mapping[str, str]) -> Backoff:
        """Read ``restart.initial``, ``restart.factor``, ``restart.maximum``, ``restart.attempts``
        and ``restart.healthy_after`` (``[restart]`` in the file, ``JANGO_RESTART_*`` in the
        environment); absent keys keep their defaults."""
        values: dict[str, Any] = {}
        for name, kind in (
            ("initial", float),
            ("factor", float),
            ("maximum", float),
            ("attempts", int),
            ("healthy_after", float),
        ):
            text = settings.get(f"restart.{name}", settings.get(f"restart_{name}"))
            if text is None:
                continue
            try:
                values[name] = kind(text)
            except ValueError as exc:
                what = "a whole number" if kind is int else "a number of seconds"
                raise ConfigError(f"restart.{name} must be {what}, not {text!r}") from exc
        try:
            return cls(**values)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc


@dataclass(frozen=True, slots=True)
class Problem:
    """A supervised task that stopped, as every view shows it."""

    task: str  # what stopped ("pump", "poll", "kis-reader", ...)
    error: str  # the cause, as "ExceptionType: message"
    since: datetime  # when it first stopped in this run of failures
    restarts: int  # the restart under way (given up: the restarts made) in this run of failures
    max_restarts: int
    permanent: bool  # given up: stays until the session ends, and the exit code says so

    def describe(self) -> str:
        """One line: what stopped, since when, why, and what happens next."""
        at = f"{self.since:%H:%M:%S}"
        if self.permanent:
            tries = f" after {self.restarts} restarts" if self.restarts else ""
            return f"{self.task} stopped at {at} and was given up{tries}: {self.error}"
        return (
            f"{self.task} stopped at {at}: {self.error} "
            f"(restarting, {self.restarts} of {self.max_restarts})"
        )


# Called with the task's name, its problem now (None once it has recovered) and the exception
# that ended it (None for a recovery).
ProblemListener = Callable[[str, Problem | None, BaseException | None], None]


@runtime_checkable
class UsesSupervisor(Protocol):
    """An adapter that runs tasks of its own and wants them supervised by the session's."""

    def use_supervisor(self, supervisor: Supervisor) -> None:
        """Spawn long-running tasks with ``supervisor`` from now on."""


class Supervised:
    """One supervised task; :meth:`stop` ends it (and its restarts) for good."""

    def __init__(
        self,
        name: str,
        factory: TaskFactory,
        restart: bool,
        backoff: Backoff,
        supervisor: Supervisor,
        wait_ready: bool,
    ) -> None:
        self.name = name
        self.factory = factory
        self.restart = restart
        self.backoff = backoff
        self.wait_ready = wait_ready
        self.runs = 0  # how many times the coroutine was started
        self.task: asyncio.Task[None] | None = None
        self.streak = 0  # deaths in the current run of failures
        self._supervisor = supervisor
        self._ready_at: float | None = None
        self._healthy: asyncio.TimerHandle | None = None

    def ready(self) -> None:
        """The current run is past its start-up (a task spawned with ``wait_ready`` says so).

        Its ``healthy_after`` clock starts now: a run that dies while still starting (a
        reconcile that keeps failing, however slowly) never counts as recovered.
        """
        if self._ready_at is not None:
            return
        loop = asyncio.get_running_loop()
        self._ready_at = loop.time()
        if self.streak:
            # Cleared only if this run lasts: a task that dies at once stays shown.
            self._healthy = loop.call_later(
                self.backoff.healthy_after, self._supervisor._recovered, self.name
            )

    def _lasted(self) -> bool:
        """Whether the run that just ended had been healthy long enough to count as recovered."""
        if self._healthy is not None:
            self._healthy.cancel()
            self._healthy = None
        ready_at, self._ready_at = self._ready_at, None
        if ready_at is None:
            return False
        return asyncio.get_running_loop().time() - ready_at >= self.backoff.healthy_after

    @property
    def done(self) -> bool:
        return self.task is None or self.task.done()

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    async def stop(self) -> None:
        """Cancel the task (or its back-off wait) and wait until it has ended."""
        task = self.task
        if task is None or task.done():
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class Supervisor:
    """Starts, watches and restarts long-running tasks; see the module docstring."""

    def __init__(self, backoff: Backoff | None = None) -> None:
        self.backoff = backoff or Backoff()
        self.problems: dict[str, Problem] = {}  # tasks down or recovering now, by name
        self.incidents: deque[Problem] = deque(maxlen=INCIDENTS_KEPT)  # every death, newest last
        self._failures: list[Problem] = []
        self._handles: list[Supervised] = []
        self._listeners: list[ProblemListener] = []
        self._stopping = False

    @property
    def failures(self) -> tuple[Problem, ...]:
        """Tasks given up for good, in the order they were given up."""
        return tuple(self._failures)

    @property
    def degraded(self) -> bool:
        return bool(self.problems)

    def listen(self, listener: ProblemListener) -> Callable[[], None]:
        """Call ``listener`` on every death, restart decision and recovery; returns a remover."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def spawn(
        self,
        name: str,
        factory: TaskFactory,
        *,
        restart: bool = True,
        backoff: Backoff | None = None,
        wait_ready: bool = False,
    ) -> Supervised:
        """Run ``factory()`` as a task named ``name`` on the running loop, under supervision.

        ``factory`` is called again for every restart, so it must build a fresh coroutine (pass
        ``self._run``, or ``lambda: self._run(arg)``). A normal return ends the task without a
        restart; cancellation ends it quietly. ``restart=False`` reports a death as a failure at
        once. With ``wait_ready`` a run counts towards recovery only from its call of
        :meth:`Supervised.ready` (after a start-up step that may itself fail).
        """
        handle = Supervised(
            name, factory, restart, backoff or self.backoff, self, wait_ready=wait_ready
        )
        if self._stopping:
            raise RuntimeError(f"cannot start {name}: the supervisor is stopping")
        handle.task = asyncio.get_running_loop().create_task(self._watch(handle), name=name)
        self._handles.append(handle)
        handle.task.add_done_callback(lambda _: self._forget(handle))
        return handle

    def _forget(self, handle: Supervised) -> None:
        # A task that ended for good (one per web client, say) is not kept for stop() to visit.
        with contextlib.suppress(ValueError):
            self._handles.remove(handle)

    async def stop(self) -> tuple[Problem, ...]:
        """Stop every task (none is restarted from now on) and return the failures."""
        self._stopping = True
        handles, self._handles = self._handles, []
        for handle in handles:
            handle.cancel()
        for handle in handles:
            await handle.stop()
        return self.failures

    def report(self, name: str, error: BaseException, *, permanent: bool = True) -> Problem:
        """Report a part that is not a supervised task (a writer thread, a disk) as down.

        Shown, logged and told to listeners like a task's death; ``permanent`` problems count
        as failures. Call on the loop (from a thread, through ``loop.call_soon_threadsafe``); call
        :meth:`clear` when it works again.
        """
        earlier = self.problems.get(name)
        problem = Problem(
            task=name,
            error=_cause(error),
            since=earlier.since if earlier is not None else _now(),
            restarts=0,
            max_restarts=0,
            permanent=permanent,
        )
        if permanent:
            log.error("%s", problem.describe())
            self._failures.append(problem)
        else:
            log.error("%s stopped: %s", name, problem.error)
        self.problems[name] = problem
        self.incidents.append(problem)
        self._tell(name, problem, error)
        return problem

    def clear(self, name: str) -> None:
        """A part reported with :meth:`report` works again (permanent problems stay)."""
        self._recovered(name)

    def retire(self, name: str) -> None:
        """``name`` is gone for good without being given up (a web client that left while its
        pusher was restarting): its open problem is dropped. A permanent failure stays."""
        problem = self.problems.get(name)
        if problem is not None and not problem.permanent:
            del self.problems[name]
            since = f"{problem.since:%H:%M:%S}"
            log.warning("%s ended while restarting (down since %s)", name, since)
            self._tell(name, None, None)

    # ----------------------------------------------------------------- watching

    async def _watch(self, handle: Supervised) -> None:
        backoff = handle.backoff
        since: datetime | None = None
        while True:
            handle.runs += 1
            if not handle.wait_ready:
                handle.ready()
            try:
                await handle.factory()
            except asyncio.CancelledError:
                handle._lasted()
                raise
            except Exception as exc:
                error: Exception = exc
            else:
                handle._lasted()
                return
            if handle._lasted():
                handle.streak = 0  # it had recovered; this is a new run of failures
            if handle.streak == 0:
                since = _now()
            assert since is not None
            handle.streak += 1
            streak = handle.streak
            # The restart about to happen, or (when given up) the restarts already made.
            give_up = self._stopping or not handle.restart or streak > backoff.attempts
            problem = Problem(
                task=handle.name,
                error=_cause(error),
                since=since,
                restarts=streak - 1 if give_up else streak,
                max_restarts=backoff.attempts if handle.restart else 0,
                permanent=give_up,
            )
            self._died(handle, problem, error)
            if give_up:
                return
            await asyncio.sleep(backoff.delay(streak))

    def _died(self, handle: Supervised, problem: Problem, error: Exception) -> None:
        if problem.permanent:
            log.error("%s", problem.describe())
            self._failures.append(problem)
        else:
            log.error("%s stopped: %s; restarting it", handle.name, problem.error)
        log.debug("%s stopped", handle.name, exc_info=error)
        self.problems[handle.name] = problem
        self.incidents.append(problem)
        self._tell(handle.name, problem, error)

    def _recovered(self, name: str) -> None:
        problem = self.problems.pop(name, None)
        if problem is not None and not problem.permanent:
            log.warning("%s recovered (down since %s)", name, f"{problem.since:%H:%M:%S}")
            self._tell(name, None, None)

    def _tell(self, name: str, problem: Problem | None, error: BaseException | None) -> None:
        for listener in list(self._listeners):
            try:
                listener(name, problem, error)
            except Exception:
                # Reporting must never take the supervisor down with it.
                log.exception("a supervisor listener failed while reporting on %s", name)


def _cause(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def format_traceback(error: BaseException) -> str:
    """The whole traceback of ``error``, as the journal keeps it beside the error."""
    return "".join(traceback.format_exception(error))
