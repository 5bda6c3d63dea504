"""Added latency and server CPU per call: OPENAICHAT through the host vs the same chat call sent
directly to the fake upstream.

Two fakes answer in 0 ms and 50 ms; at concurrency 1 and 32 the driver alternates blocks of
direct, DataSet-XML and JSON calls (so drift hits all three alike), and the host's CPU is read
from /proc/<pid>/stat of its master and workers before and after each block. The difference of
the percentiles is what the host adds: HTTP parsing, its web layer, context read + validation +
render, the pooled upstream call and its JSON.

    python bench/latency.py [--quick] [--cases 0:1,0:32,50:1,50:32] [--against OTHER_CHECKOUT]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    BASELINE,
    CHOSEN,
    ServerModel,
    Service,
    baseline_target,
    direct_target,
    drive,
    expected_workers,
    host_target,
    machine,
    percentile,
    raise_nofile,
    running,
    save,
    start_fake,
    start_host,
    table,
    wait_quiet,
    workspace,
)

#: (upstream delay ms, concurrency) -> calls per block, full and quick.
COUNTS = {(0, 1): (600, 60), (0, 32): (2400, 320), (50, 1): (100, 20), (50, 32): (640, 64)}
BLOCKS = (3, 1)
TARGETS = {"vs_baseline": 0.6}


def wait_workers(host: Service, model: ServerModel, timeout: float = 30.0) -> list[int]:
    """The host's pids once every worker has forked."""
    wanted = 1 + expected_workers(model)
    deadline = time.monotonic() + timeout
    pids = host.pids()
    while len(pids) < wanted and time.monotonic() < deadline:
        time.sleep(0.05)
        pids = host.pids()
    return pids


def run(quick: bool = False, model: ServerModel = CHOSEN, against: str = "",
        only: tuple[tuple[int, int], ...] = ()) -> dict[str, Any]:
    """``against``: another checkout (``git worktree add DIR COMMIT``) served as well, its rows
    labelled ``dataset@other``/``json@other`` (an A/B in the same run); ``only``: the
    (upstream delay, concurrency) cases to run (default all)."""
    raise_nofile()
    busy = wait_quiet(3 if quick else 60)
    blocks = BLOCKS[1] if quick else BLOCKS[0]
    cases: list[dict[str, Any]] = []
    with workspace() as work:
        fakes = {0: start_fake(work, 0, "fake-0ms"), 50: start_fake(work, 50, "fake-50ms")}
        host = start_host(work, fakes[0], model, upstreams=[fakes[50]])
        other_model = ServerModel(f"{model.name} ({against})", env=model.env, root=against)
        others = [start_host(work, fakes[0], other_model, upstreams=[fakes[50]])
                  ] if against else []
        # The baseline's upstream is fixed at start: one per fake.
        baselines = {delay: start_host(work, fake, BASELINE) for delay, fake in fakes.items()}
        with running(*fakes.values(), host, *others, *baselines.values()):
            pids = wait_workers(host, model)
            other_pids = [wait_workers(other, other_model) for other in others]
            base_pids = {delay: wait_workers(base, BASELINE) for delay, base in baselines.items()}
            # Every worker imports its applications lazily on its first call: warm them all.
            warm = [host_target(host, "dataset", fakes[0]),
                    *(baseline_target(base, "dataset", fakes[delay])
                      for delay, base in baselines.items())]
            drive([{"target": target, "concurrency": 16, "requests": 64 if quick else 400,
                    "deadline": 30} for target in warm], timeout=90)
            warm = [host_target(other, "dataset", fakes[0]) for other in others]
            drive([{"target": target, "concurrency": 16, "requests": 64 if quick else 400,
                    "deadline": 30} for target in warm], timeout=90)
            for (delay, concurrency), (full, small) in COUNTS.items():
                if only and (delay, concurrency) not in only:
                    continue
                count = small if quick else full
                upstream = fakes[delay]
                targets = {
                    "direct": (direct_target(upstream), upstream.pids()),
                    "baseline": (baseline_target(baselines[delay], "dataset", upstream),
                                 base_pids[delay]),
                    "dataset": (host_target(host, "dataset", upstream), pids),
                    "json": (host_target(host, "json", upstream), pids),
                }
                for other, watch in zip(others, other_pids, strict=True):
                    targets["dataset@other"] = (host_target(other, "dataset", upstream), watch)
                    targets["json@other"] = (host_target(other, "json", upstream), watch)
                # Clients start spread over one upstream delay, so the 32 calls do not come
                # back (and compete for the CPU) all at once, round after round.
                phases = [
                    {"label": name, "target": target, "concurrency": concurrency,
                     "requests": count, "warmup": concurrency * 4 if block == 0 else 0,
                     "watch": watch, "deadline": 120, "ramp": delay / 1000}
                    for block in range(blocks) for name, (target, watch) in targets.items()
                ]
                results = drive(phases, timeout=blocks * len(targets) * 150)
                cases.append(summarise(delay, concurrency, results))
    return {"benchmark": "latency", "quick": quick, "server": model.name, "against": against,
            "machine": machine(),
            "busy_before": busy, "cases": cases, "targets": TARGETS}


def summarise(delay: int, concurrency: int, results: list[dict[str, Any]]) -> dict[str, Any]:
    """Per (delay, concurrency): percentiles of each target, the host's additions, CPU/call."""
    by_name: dict[str, dict[str, Any]] = {}
    for result in results:
        entry = by_name.setdefault(result["label"], {"lat": [], "ok": 0, "errors": 0,
                                                     "cpu": 0.0, "driver_cpu": 0.0, "kinds": {}})
        entry["kinds"].update(result["error_kinds"])
        entry["lat"] += result["latencies_ms"]
        entry["ok"] += result["ok"]
        entry["errors"] += result["errors"] + result["unfinished"]
        entry["cpu"] += result["server_cpu_s"] or 0.0
        entry["driver_cpu"] += result["driver_cpu_s"]
    direct = by_name["direct"]
    d50, d99 = percentile(direct["lat"], 0.5), percentile(direct["lat"], 0.99)
    rows = []
    for name, entry in by_name.items():
        p50, p99 = percentile(entry["lat"], 0.5), percentile(entry["lat"], 0.99)
        rows.append({
            "target": name, "calls": entry["ok"], "errors": entry["errors"],
            "p50_ms": p50, "p99_ms": p99,
            "added_p50_ms": None if name == "direct" else p50 - d50,
            "added_p99_ms": None if name == "direct" else p99 - d99,
            # server CPU: the serving processes for host and baseline rows, the fake's for the
            # direct row
            "cpu_ms_per_call": entry["cpu"] * 1000 / entry["ok"] if entry["ok"] else None,
            "driver_cpu_ms_per_call": entry["driver_cpu"] * 1000 / entry["ok"]
            if entry["ok"] else None,
            "error_kinds": entry["kinds"],
        })
    base = next((row for row in rows if row["target"] == "baseline"), None)
    for row in rows:
        row["p50_vs_baseline"] = _ratio(row["added_p50_ms"], base["added_p50_ms"] if base else None)
        row["cpu_vs_baseline"] = _ratio(row["cpu_ms_per_call"],
                                        base["cpu_ms_per_call"] if base else None)
    return {"delay_ms": delay, "concurrency": concurrency, "rows": rows}


def _ratio(value: float | None, baseline: float | None) -> float | None:
    """``value / baseline`` for host rows; None for the direct and baseline rows themselves."""
    if value is None or not baseline or baseline <= 0:
        return None
    return value / baseline


def report(result: dict[str, Any]) -> str:
    rows = []
    for case in result["cases"]:
        for row in case["rows"]:
            rows.append([
                case["delay_ms"], case["concurrency"], row["target"], row["calls"], row["errors"],
                row["p50_ms"], row["p99_ms"],
                "" if row["added_p50_ms"] is None else row["added_p50_ms"],
                "" if row["added_p99_ms"] is None else row["added_p99_ms"],
                "" if row["cpu_ms_per_call"] is None else row["cpu_ms_per_call"],
                "" if row["target"] in ("direct", "baseline") else _blank(row["p50_vs_baseline"]),
                "" if row["target"] in ("direct", "baseline") else _blank(row["cpu_vs_baseline"]),
            ])
    headers = ["upstream ms", "conc", "path", "calls", "errors", "p50 ms", "p99 ms",
               "added p50", "added p99", "CPU ms/call", "added p50 / baseline's",
               "CPU / baseline's"]
    note = ("CPU ms/call: all serving processes (master + workers) for the baseline, dataset "
            "and json rows, the fake for direct rows. baseline: the minimal pass-through "
            "(bench/passthrough.py) under the same gunicorn settings. Targets at concurrency "
            f"1: added p50 and CPU per call <= {TARGETS['vs_baseline']} x the baseline's.")
    kinds = {kind for case in result["cases"] for row in case["rows"]
             for kind in row.get("error_kinds", {})}
    if kinds:
        note += "\nErrors: " + "; ".join(sorted(kinds))
    return f"Added latency ({result['server']})\n" + table(headers, rows) + "\n" + note


def _blank(value: float | None) -> float | str:
    return "-" if value is None else value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny counts (smoke test)")
    parser.add_argument("--against", default="",
                        help="A/B: also serve this other checkout (git worktree add DIR COMMIT)")
    parser.add_argument("--cases", default="",
                        help="upstream-ms:concurrency pairs to run, e.g. 0:1,0:32 (default all)")
    args = parser.parse_args(argv)
    only = tuple((int(delay), int(conc)) for delay, conc in
                 (pair.split(":") for pair in args.cases.split(",") if pair))
    result = run(args.quick, against=str(Path(args.against).resolve()) if args.against else "",
                 only=only)
    print(report(result))
    print(f"saved {save('latency', result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
