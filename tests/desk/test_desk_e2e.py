"""Two sim agents and a hub over a real nats-server, through a NATS outage, a killed hub and a
killed agent, then a bounded loop of kill -9s at random moments: the hub ends with every agent
row exactly once and the agents' books."""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from pathlib import Path

import nats

from jango.desk import wire
from tests.desk.harness import (
    Desk,
    NatsServer,
    fills,
    journal_book,
    journal_rows,
    needs_nats,
    wait_until,
)

pytestmark = needs_nats
# Kills at random moments after the scripted ones (JANGO_LONG=1: the full size).
KILLS = 12 if os.environ.get("JANGO_LONG") == "1" else 3
SEED = int(os.environ.get("JANGO_DESK_SEED", "16"))

# What the hub must equal exactly; valuations (price × qty) are left out: the desk's price of a
# code is the last tick any agent saw, and each sim agent here runs a market of its own.
TOTALS = ("purchase_amount", "realized_gross", "realized_net", "commission", "tax")


async def stream_ids(url: str) -> list[str]:
    """Every message id in the stream, read with nats-py alone (no jango code)."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        info = await js.stream_info("JANGO")
        ids: list[str] = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg("JANGO", seq)
            assert msg.headers is not None
            ids.append(msg.headers["Nats-Msg-Id"])
        return ids
    finally:
        await nc.close()


def test_hub_holds_every_agent_row_once_through_outages(tmp_path: Path) -> None:
    server = NatsServer(tmp_path)
    server.start()
    desk = Desk(tmp_path, server)
    try:
        desk.hub()
        desk.agent("a1", "--seed", "1")
        desk.agent("a2", "--seed", "2")
        wait_until(
            lambda: all(desk.hub_applied().get(a, 0) > 20 for a in ("a1", "a2")), 30, "both agents"
        )

        # NATS dies while both agents trade on: they keep journaling and say so.
        server.kill()
        time.sleep(1.5)
        server.start()
        wait_until(lambda: "desk: NATS down" in desk.errors("a1"), 10, "a1 to show the outage")
        before = dict(desk.hub_applied())
        wait_until(
            lambda: all(desk.hub_applied().get(a, 0) > before[a] for a in ("a1", "a2")),
            30,
            "the hub to hear from both agents again",
        )

        # kill -9 the hub and one agent mid-run; both resume from their own files.
        desk.kill("hub")
        desk.kill("a1")
        time.sleep(0.5)
        desk.agent("a1", "--seed", "1")
        desk.hub()
        time.sleep(2)

        # Then a bounded loop of kills at random moments: any of the four, after 0.2-2 s.
        rng = random.Random(SEED)
        for _ in range(KILLS):
            time.sleep(rng.uniform(0.2, 2.0))
            victim = rng.choice(("nats", "hub", "a1", "a2"))
            if victim == "nats":
                server.kill()
                time.sleep(rng.uniform(0.1, 1.0))
                server.start()
                continue
            desk.kill(victim)
            time.sleep(rng.uniform(0.1, 0.5))
            if victim == "hub":
                desk.hub()
            else:
                desk.agent(victim, "--seed", victim[1])
        time.sleep(2)

        agents = {a: desk.stop(a) for a in ("a1", "a2")}
        for agent, out in agents.items():
            assert out["agent"]["unpublished"] == 0, agent
        last = {a: journal_rows(desk.journal(a))[-1][0] for a in ("a1", "a2")}
        wait_until(lambda: desk.hub_applied() == last, 30, "the hub to apply every row")
        hub = desk.stop("hub")
    except BaseException:
        server.stop()
        raise
    finally:
        desk.close()

    for agent in ("a1", "a2"):
        journal = journal_rows(desk.journal(agent))
        at_hub = desk.hub_rows(agent)
        # Every row exactly once, in the agent's order, as the agent journaled it.
        assert at_hub == journal
        assert fills(at_hub) == fills(journal)
        assert fills(journal), f"{agent} traded nothing: the test proves nothing"

        book = journal_book(desk.journal(agent))
        for account, acc in book.accounts.items():
            mine = hub["totals"]["accounts"][wire.qualify(agent, account)]
            assert {k: mine[k] for k in TOTALS} == {k: getattr(acc.totals, k) for k in TOTALS}
            assert (mine["deposit"], mine["d2"]) == (acc.deposit, acc.d2)
            hub_rows = {
                (r["code"], r["credit"], r["loan_date"]): (r["qty"], r["sellable"])
                for a in hub["book"]["accounts"]
                if a["account"] == wire.qualify(agent, account)
                for r in a["rows"]
            }
            rows = {
                (r.key.code, r.key.credit.value, r.key.loan_date and r.key.loan_date.isoformat()): (
                    r.qty,
                    r.sellable,
                )
                for r in book.rows(account)
            }
            assert hub_rows == rows

    overall = hub["totals"]["overall"]
    by_agent = hub["totals"]["agents"]
    assert overall["purchase_amount"] == sum(a["purchase_amount"] for a in by_agent.values())
    assert {a["agent"]: a["applied_seq"] for a in hub["desk"]["agents"]} == last

    # Outside check: nats-py alone reads the stream; JetStream kept each row once by its id.
    # The server was killed once and restarted on its store, and the resends were dropped.
    try:
        ids = asyncio.run(stream_ids(server.url))
    finally:
        server.stop()
    assert len(ids) == len(set(ids))
    assert set(ids) == {
        wire.msg_id(agent, seq)
        for agent in ("a1", "a2")
        for seq, _, _ in journal_rows(desk.journal(agent))
    }
    assert json.dumps(hub["desk"]["nats"]["url"]) == json.dumps(server.url)
