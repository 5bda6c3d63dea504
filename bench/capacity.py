"""Capacity: many concurrent slow OPENAICHAT calls (the upstream answers in 2 s) through the host,
against the same load sent directly to the fake upstream.

Each level keeps N calls in flight (N clients, each making ``rounds`` calls back to back), first
straight to the fake (the baseline: it shows the driver and the fake are not the limit), then
through the host. Reported: throughput and its ratio to direct, errors, p50/p99, the host's CPU
per call, and the peak RSS and PSS of all host processes (master + workers, sampled from
/proc/<pid>/smaps_rollup every 0.25 s).

    python bench/capacity.py [--quick] [--compare [MODEL,...]] [--levels 200,1000]

``--compare`` runs the serving models of ``bench.common.MODELS`` (gevent, gthread, sync,
waitress...) one after the other, as used to choose workflowapp/gunicorn_conf.py.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    BASELINE,
    CHOSEN,
    MODELS,
    RESULTS,
    ServerModel,
    Service,
    ServiceError,
    baseline_target,
    direct_target,
    drive,
    host_target,
    machine,
    memory_kib,
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
from bench.latency import wait_workers  # noqa: E402


@dataclass(frozen=True)
class Plan:
    levels: tuple[int, ...]  # concurrent calls
    rounds: int  # calls per client
    delay_ms: float  # upstream answer time


FULL = Plan(levels=(200, 1000), rounds=3, delay_ms=2000.0)
QUICK = Plan(levels=(20,), rounds=2, delay_ms=200.0)
TARGETS = {"ratio": 0.95, "errors": 0, "pss_mib": 200.0}


def run(quick: bool = False, models: list[ServerModel] | None = None,
        levels: tuple[int, ...] | None = None, fmt: str = "dataset") -> dict[str, Any]:
    raise_nofile()
    busy = wait_quiet(3 if quick else 60)
    plan = QUICK if quick else FULL
    chosen_levels = levels or plan.levels
    rounds, delay = plan.rounds, plan.delay_ms
    rows: list[dict[str, Any]] = []
    with workspace() as work:
        fake = start_fake(work, delay, "fake-slow")
        baseline = start_host(work, fake, BASELINE)
        with running(fake, baseline):
            base_pids = wait_workers(baseline, BASELINE)
            drive([{"target": baseline_target(baseline, fmt, fake), "concurrency": 16,
                    "requests": 64, "deadline": 60}], timeout=120)
            for model in models or [CHOSEN]:
                try:
                    rows += run_model(work, fake, (baseline, base_pids), model, chosen_levels,
                                      rounds, delay, fmt)
                except ServiceError as exc:
                    rows.append({"server": model.name, "failed": str(exc)[:500]})
    return {"benchmark": "capacity", "quick": quick, "machine": machine(), "busy_before": busy,
            "rows": rows,
            "delay_ms": delay, "rounds": rounds, "format": fmt, "targets": TARGETS}


def run_model(work: Path, fake: Any, reference: tuple[Service, list[int]], model: ServerModel,
              levels: tuple[int, ...], rounds: int, delay: float, fmt: str
              ) -> list[dict[str, Any]]:
    """Per level and mode: direct, then the baseline, then the host, one after the other."""
    baseline, base_pids = reference
    rows = []
    host = start_host(work, fake, model)
    with running(host):
        pids = wait_workers(host, model)
        drive([{"target": host_target(host, fmt, fake), "concurrency": 16, "requests": 64,
                "deadline": 60}], timeout=120)
        idle_rss, idle_pss = memory_kib(pids)
        for level in levels:
            if model.max_concurrency and level > model.max_concurrency:
                continue
            for mode, ramp in (("steady", delay / 1000), ("burst", 0.0)):
                bound = (rounds + 1) * delay / 1000 * 4 + 30  # s: no phase runs longer
                base = {"concurrency": level, "requests": level * rounds, "warmup": level,
                        "deadline": bound, "request_timeout": bound, "ramp": ramp}
                direct, passthrough, through = drive([
                    {**base, "label": "direct", "target": direct_target(fake),
                     "watch": fake.pids()},
                    {**base, "label": "baseline", "target": baseline_target(baseline, fmt, fake),
                     "watch": base_pids, "sample_memory": 0.25},
                    {**base, "label": "host", "target": host_target(host, fmt, fake),
                     "watch": pids, "sample_memory": 0.25},
                ], timeout=6 * bound + 120)
                row = summarise(model, mode, level, direct, through, idle_rss, idle_pss)
                rows.append({**row, "baseline": summarise(
                    BASELINE, mode, level, direct, passthrough, 0, 0)})
    return rows


def summarise(model: ServerModel, mode: str, level: int, direct: dict[str, Any],
              host: dict[str, Any], idle_rss: int, idle_pss: int) -> dict[str, Any]:
    """One row: steady mode compares the steady-state throughput (all clients in flight),
    burst mode the whole run's (everyone starts at once, answers come back in waves)."""
    ok = host["ok"]
    key = "steady_throughput" if mode == "steady" else "throughput"
    return {
        "server": model.name, "mode": mode, "concurrency": level, "calls": host["requests"],
        "direct_rps": direct[key], "host_rps": host[key],
        "ratio": host[key] / direct[key] if direct[key] else 0.0,
        "direct_errors": direct["errors"] + direct["unfinished"],
        "errors": host["errors"], "unfinished": host["unfinished"],
        "error_kinds": host["error_kinds"],
        "direct_p50_ms": percentile(direct["latencies_ms"], 0.5),
        "p50_ms": percentile(host["latencies_ms"], 0.5),
        "p99_ms": percentile(host["latencies_ms"], 0.99),
        "cpu_ms_per_call": (host["server_cpu_s"] or 0.0) * 1000 / ok if ok else None,
        "host_cpu_cores": (host["server_cpu_s"] or 0.0) / host["wall_s"] if host["wall_s"] else 0,
        "driver_cpu_ms_per_call": direct["driver_cpu_s"] * 1000 / max(direct["ok"], 1),
        "idle_rss_mib": idle_rss / 1024, "idle_pss_mib": idle_pss / 1024,
        "peak_rss_mib": (host["peak_rss_kib"] or 0) / 1024,
        "peak_pss_mib": (host["peak_pss_kib"] or 0) / 1024,
    }


def report(result: dict[str, Any]) -> str:
    headers = ["server", "mode", "conc", "calls", "direct/s", "served/s", "ratio", "errors",
               "p50 ms",
               "p99 ms", "CPU ms/call", "peak RSS MiB", "peak PSS MiB"]
    rows = []
    for row in result["rows"]:
        if "failed" in row:
            rows.append([row["server"], "-", "-", "-", "-", "-", "-", "failed", "-", "-", "-",
                         "-", "-"])
            continue
        for each in (row, row.get("baseline")):
            if each is None:
                continue
            errors = each["errors"] + each["unfinished"]
            rows.append([
                each["server"], each["mode"], each["concurrency"], each["calls"],
                each["direct_rps"], each["host_rps"],
                each["ratio"], errors, each["p50_ms"], each["p99_ms"],
                each["cpu_ms_per_call"] if each["cpu_ms_per_call"] is not None else "-",
                each["peak_rss_mib"], each["peak_pss_mib"],
            ])
    note = (f"Upstream answers in {result['delay_ms']:g} ms; {result['rounds']} calls per "
            "client, back to back; per level and mode: direct, the minimal pass-through "
            "(bench/passthrough.py, same gunicorn settings), then the host. steady: clients "
            "start spread over one upstream delay and throughput is counted while all are in "
            "flight; burst: all start at once. "
            f"Targets: ratio >= {TARGETS['ratio']}, 0 errors, peak PSS <= "
            f"{TARGETS['pss_mib']:g} MiB (all host processes).")
    kinds = {f"{row['server']}: {kind}" for row in result["rows"]
             for kind in row.get("error_kinds", {})}
    if kinds:
        note += "\nErrors: " + "; ".join(sorted(kinds))
    return "Capacity\n" + table(headers, rows) + "\n" + note


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny counts (smoke test)")
    parser.add_argument("--compare", nargs="?", const=",".join(MODELS), default=None,
                        help=f"serving models to compare (default all: {','.join(MODELS)})")
    parser.add_argument("--levels", help="comma-separated concurrencies (default 200,1000)")
    parser.add_argument("--format", default="dataset", choices=("dataset", "recordset", "json"))
    args = parser.parse_args(argv)
    models = [MODELS[name] for name in args.compare.split(",")] if args.compare else None
    levels = tuple(int(x) for x in args.levels.split(",")) if args.levels else None
    result = run(args.quick, models, levels, args.format)
    if args.compare and not args.quick:
        result = merged(result)
    print(report(result))
    print(f"saved {save('capacity-compare' if args.compare else 'capacity', result)}")
    return 0


def merged(result: dict[str, Any]) -> dict[str, Any]:
    """``result`` plus the rows of the previous comparison that it did not measure again, so
    models can be compared a few at a time."""
    previous = RESULTS / "capacity-compare-latest.json"
    if not previous.is_file():
        return result
    old = json.loads(previous.read_text())
    if old.get("delay_ms") != result["delay_ms"] or old.get("quick"):
        return result
    key = ("server", "mode", "concurrency")
    seen = {tuple(row.get(k) for k in key) for row in result["rows"]}
    kept = [row for row in old["rows"] if tuple(row.get(k) for k in key) not in seen]
    return {**result, "rows": kept + result["rows"]}


if __name__ == "__main__":
    sys.exit(main())
