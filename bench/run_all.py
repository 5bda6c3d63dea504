"""Run the four benchmarks (latency, capacity, codec, cold start), print their tables, and write
their JSON results to bench/results/ (``<name>-latest.json`` and ``all-latest.json``; quick runs
``<name>-quick-latest.json``, so a smoke run never replaces full figures).

    python bench/run_all.py            # full run, ~6 minutes on 2 cores
    python bench/run_all.py --quick    # smoke: tiny counts, about a minute

Benchmarks measure, they never judge: the exit status is non-zero only when a benchmark failed
to run or produced no numbers, never because of a timing. Figures are compared with the targets
in the printed notes and in bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import capacity, codec, coldstart, latency  # noqa: E402
from bench.common import RESULTS, machine, save  # noqa: E402

BENCHMARKS: dict[str, tuple[Callable[[bool], dict[str, Any]], Callable[[dict[str, Any]], str]]] = {
    "latency": (lambda quick: latency.run(quick), latency.report),
    "capacity": (lambda quick: capacity.run(quick), capacity.report),
    "codec": (lambda quick: codec.run(quick), codec.report),
    "coldstart": (lambda quick: coldstart.run(quick), coldstart.report),
}


def has_numbers(name: str, result: dict[str, Any]) -> bool:
    """Whether a result holds the figures it exists for (a run that measured nothing fails)."""
    if name == "latency":
        rows = [row for case in result.get("cases", []) for row in case["rows"]]
        return bool(rows) and all(row["calls"] > 0 for row in rows)
    if name == "capacity":
        rows = result.get("rows", [])
        return bool(rows) and all(row.get("host_rps", 0) > 0 for row in rows)
    if name == "codec":
        rows = result.get("rows", [])
        return bool(rows) and all(row["read_ms"] > 0 and row["write_ms"] > 0 for row in rows)
    if name == "coldstart":
        return all(result.get(f"{key}_s", {}).get("median", 0) > 0
                   for key in ("serve", "baseline", "gunicorn"))
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke mode: tiny counts")
    parser.add_argument("--only", help="comma-separated subset: " + ",".join(BENCHMARKS))
    args = parser.parse_args(argv)
    chosen = args.only.split(",") if args.only else list(BENCHMARKS)
    unknown = [name for name in chosen if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    started = time.monotonic()
    results: dict[str, Any] = {"machine": machine(), "quick": args.quick}
    combined = RESULTS / ("all-quick-latest.json" if args.quick else "all-latest.json")
    if args.only and combined.is_file():  # a partial run updates the last full one
        previous = json.loads(combined.read_text())
        if previous.get("quick") == args.quick:
            results = {**previous, **results}
    failed: list[str] = []
    for name in chosen:
        run, report = BENCHMARKS[name]
        began = time.monotonic()
        print(f"== {name}{' (quick)' if args.quick else ''}", flush=True)
        try:
            result = run(args.quick)
        except Exception:
            traceback.print_exc()
            failed.append(name)
            continue
        result["seconds"] = time.monotonic() - began
        results[name] = result
        save(name, result)
        print(report(result))
        print(f"({result['seconds']:.1f} s)\n", flush=True)
        if not has_numbers(name, result):
            print(f"!! {name} produced no numbers", file=sys.stderr)
            failed.append(name)
    results["seconds"] = time.monotonic() - started
    RESULTS.mkdir(parents=True, exist_ok=True)
    combined.write_text(json.dumps(results, indent=2, default=str))
    status = f"FAILED: {', '.join(failed)}" if failed else "all ran"
    print(f"benchmarks: {status} in {results['seconds']:.1f} s; results in {RESULTS}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
