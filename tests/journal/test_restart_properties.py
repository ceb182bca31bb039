"""Every fill exactly once, whatever happens around it: for random sessions with restarts,
reconnects whose notices arrive after the snapshot, duplicate deliveries and (KIS-like) fills
that carry no fill id, the live book, the book rebuilt from the journal and the replayed export
are identical, and equal to the venue's own account, computed from its own fills."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jango.brokers.sim.demo import DemoTrader
from jango.domain.book import Book
from jango.domain.model import Event, NoticeKind, OrderNotice
from jango.journal import Journal, read_entries
from jango.journal.export import export_lines, replay_lines
from jango.sandbox.venue import Venue
from tests.journal.streams import ARRIVAL, state

LONG = os.environ.get("JANGO_LONG") == "1"


@dataclass(frozen=True)
class Step:
    """What happens around one venue step."""

    kind: str  # "plain", "reconnect", "restart" or "duplicate"
    late: int = 0  # for a reconnect: how many of the step's events arrive after the snapshot


steps = st.lists(
    st.one_of(
        st.just(Step("plain")),
        st.builds(Step, st.just("reconnect"), st.integers(0, 6)),
        st.just(Step("restart")),
        st.just(Step("duplicate")),
    ),
    min_size=5,
    max_size=60 if LONG else 30,
)


class Run:
    """One venue, its demo trader, and a journaled live book fed the venue's events."""

    def __init__(self, path: Path, seed: int, *, fill_ids: bool) -> None:
        self.venue = Venue(seed=seed)
        self.venue.open_demo_account()
        self.account = self.venue.accounts()[0]
        self.trader = DemoTrader(self.venue, self.account, seed=seed)
        self.fill_ids = fill_ids
        self.captured: list[Event] = []
        self.venue.add_tick_listener(self.captured.append)
        self.venue.add_notice_listener(self.captured.append)
        self.path = path
        self.journal = Journal(path)
        self.book = self.journal.rebuild()
        self.feed(self.venue.balance(self.account))
        self.delivered: list[OrderNotice] = []

    def feed(self, event: Event) -> None:
        if isinstance(event, OrderNotice) and not self.fill_ids:
            # KIS sends no fill id: identity is the order's cumulative filled quantity only.
            event = dataclasses.replace(event, fill_id="")
        # The session journals an event before applying it.
        self.journal.record_event(event, raw="", source="sim", at=ARRIVAL)
        self.book.apply(event)
        if isinstance(event, OrderNotice):
            self.delivered.append(event)

    def step(self, step: Step) -> None:
        self.trader.act()
        self.venue.step()
        new, self.captured[:] = list(self.captured), []
        if step.kind == "reconnect":
            # Notices of the step's last events were in flight while the balance was read.
            cut = max(0, len(new) - step.late)
            for event in new[:cut]:
                self.feed(event)
            self.feed(self.venue.balance(self.account))
            for event in new[cut:]:
                self.feed(event)
            return
        for event in new:
            self.feed(event)
        if step.kind == "duplicate":
            fills = [n for n in self.delivered if n.kind is NoticeKind.FILLED]
            if fills:
                self.feed(fills[-1])
        elif step.kind == "restart":
            self.journal.close()
            self.journal = Journal(self.path)
            rebuilt = self.journal.rebuild()
            assert state(rebuilt) == state(self.book)
            self.book = rebuilt
            self.feed(self.venue.balance(self.account))

    def close(self) -> None:
        self.journal.close()


def replayed_export(path: Path) -> Book:
    book = Book()
    errors = list(replay_lines(book, export_lines(read_entries(path))))
    assert errors == []
    return book


def holdings(book: Book, account: str) -> dict[object, tuple[int, int, int]]:
    return {r.key: (r.qty, r.sellable, r.purchase_amount) for r in book.rows(account)}


@settings(
    max_examples=60 if LONG else 12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(0, 10_000), plan=steps, fill_ids=st.booleans())
def test_live_rebuilt_and_replayed_books_agree_with_the_venue(
    tmp_path_factory: object, seed: int, plan: list[Step], fill_ids: bool
) -> None:
    path = tmp_path_factory.mktemp("j") / "j.sqlite"  # type: ignore[attr-defined]
    run = Run(path, seed, fill_ids=fill_ids)
    for step in plan:
        run.step(step)
    run.close()
    with Journal(path) as journal:
        rebuilt = journal.rebuild()
        from_scratch = journal.rebuild(use_checkpoints=False)
    replayed = replayed_export(path)
    assert state(run.book) == state(rebuilt) == state(from_scratch) == state(replayed)
    # The venue's own account, from its own fills, is the independent truth.
    truth = run.venue.balance(run.account)
    assert holdings(run.book, run.account) == {
        r.key: (r.qty, r.sellable, r.purchase_amount) for r in truth.rows if r.qty
    }
    acc = run.book.accounts[run.account]
    assert (acc.deposit, acc.d2) == (truth.cash.deposit, truth.cash.d2)


def test_replaying_an_export_twice_changes_nothing(tmp_path: Path) -> None:
    run = Run(tmp_path / "j.sqlite", 7, fill_ids=False)
    for _ in range(40):
        run.step(Step("plain"))
    run.close()
    lines = list(export_lines(read_entries(tmp_path / "j.sqlite")))
    once, twice = Book(), Book()
    list(replay_lines(once, lines))
    list(replay_lines(twice, lines))
    list(replay_lines(twice, lines))
    assert state(once) == state(twice)
