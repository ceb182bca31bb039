"""How much does one venue step cost a tick, alone (no adapter, no engine)?

Steps over 1,000 synthetic codes, every code a step (what ``bench_engine.py`` saturates) and 20
codes a step (a KIS frame), with a burst listener attached as the sim adapter attaches one.
Best of many short runs, since the machine is shared.

``--baseline SRC`` loads ``jango/sandbox/venue.py`` from another checkout's ``src`` (the rest
of jango from this one) and times both, interleaved, in the same process: a before/after that
sees the same load.

Run: ``python benchmarks/bench_venue.py [--rounds 9] [--baseline /path/to/main/src]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path
from types import ModuleType

from jango.sandbox import venue as this_venue
from jango.sandbox.instruments import synthetic_instruments

CODES = 1000


def load_venue(src: Path) -> ModuleType:
    """``venue.py`` of another checkout as a module of its own."""
    path = src / "jango" / "sandbox" / "venue.py"
    spec = importlib.util.spec_from_file_location("baseline_venue", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def step_cost(module: ModuleType, per_step: int, ticks: int = 10_000) -> float:
    """µs a tick of ``Venue.step`` moving ``per_step`` codes of 1,000."""
    venue = module.Venue(synthetic_instruments(CODES, seed=1), seed=1, codes_per_step=per_step)
    venue.add_burst_listener(lambda burst: None)
    venue.step()
    made = 0
    t0 = time.perf_counter()
    while made < ticks:
        made += len(venue.step())
    return (time.perf_counter() - t0) / made * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--baseline", type=Path, help="another checkout's src directory")
    args = parser.parse_args()
    modules = {"this tree": this_venue}
    if args.baseline is not None:
        modules = {"baseline": load_venue(args.baseline), **modules}
    best: dict[tuple[str, int], float] = {}
    for _ in range(args.rounds):
        for name, module in modules.items():
            for per_step in (CODES, 20):
                cost = step_cost(module, per_step)
                best[name, per_step] = min(best.get((name, per_step), cost), cost)
    print("| venue.py | codes a step | µs a tick (best) |")
    print("|---|---:|---:|")
    for (name, per_step), cost in best.items():
        print(f"| {name} | {per_step:,} | {cost:.2f} |")
    if args.baseline is not None:
        for per_step in (CODES, 20):
            ratio = best["baseline", per_step] / best["this tree", per_step]
            print(f"\n{per_step:,} codes a step: this tree is {ratio:.1f}x cheaper a tick")


if __name__ == "__main__":
    main()
