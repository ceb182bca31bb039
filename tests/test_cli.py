"""The jango command as a user runs it: real subprocesses, exit codes and output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "seed_scenario.jsonl"


def jango(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jango.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def test_replay_of_the_sample_prints_every_account_as_json() -> None:
    out = jango("replay", str(SAMPLE), "--format", "json")
    assert out.returncode == 0, out.stderr
    book = json.loads(out.stdout)
    [acc] = book["accounts"]
    assert set(acc) == {"account", "rows", "cash", "totals", "open_orders", "discrepancies"}
    assert set(acc["cash"]) == {"deposit", "d1", "d2", "orderable"}
    row_fields = {
        "code",
        "name",
        "market",
        "credit",
        "loan_date",
        "qty",
        "sellable",
        "purchase_amount",
        "avg_price",
        "price",
        "value",
        "pnl",
        "pnl_rate",
    }
    assert all(row_fields <= set(r) for r in acc["rows"])
    credits = {(r["code"], r["credit"]) for r in acc["rows"]}
    assert ("005930", "cash") in credits and ("005930", "margin_self") in credits
    assert acc["discrepancies"] == []
    t = acc["totals"]
    assert t["value"] == sum(r["value"] for r in acc["rows"])
    assert t["purchase_amount"] == sum(r["purchase_amount"] for r in acc["rows"])


def test_replay_reports_bad_lines_with_numbers_and_fails(tmp_path: Path) -> None:
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    lines.insert(3, '{"type": "tick", "code": "12"}')
    lines.insert(5, "not json at all")
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = jango("replay", str(bad), "--format", "json")
    assert out.returncode == 1
    assert f"{bad}:4:" in out.stderr and f"{bad}:6:" in out.stderr
    assert json.loads(out.stdout)["accounts"]  # the good lines were still applied
    assert "Traceback" not in out.stderr


def test_headless_run_prints_the_final_book_in_the_replay_shape() -> None:
    out = jango("run", "--seconds", "2", "--format", "json", "--seed", "3")
    assert out.returncode == 0, out.stderr
    book = json.loads(out.stdout)
    assert book["format"] == "jango-book"
    [acc] = book["accounts"]
    assert acc["rows"] and all(r["price"] > 0 for r in acc["rows"])


def test_user_errors_print_one_line_and_exit_nonzero(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('broker = "nope"\n', encoding="utf-8")
    cases = [
        ("order", "buy", "00593", "1"),
        ("order", "buy", "005930", "1", "--price", "70001", "--no-demo"),
        ("cancel", "9999", "--no-demo"),
        ("--config", str(config), "balance"),
        ("--config", str(tmp_path / "missing.toml"), "balance"),
        ("replay", str(tmp_path / "missing.jsonl")),
    ]
    for args in cases:
        out = jango(*args)
        assert out.returncode == 2, (args, out.stderr)
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("jango: error:"), (args, out.stderr)


def test_a_market_order_shows_its_notices() -> None:
    out = jango("order", "buy", "005930", "2", "--no-demo", "--seed", "5")
    assert out.returncode == 0, out.stderr
    assert "accepted" in out.stdout and "filled" in out.stdout
