"""Context codec: ``read_context`` + ``write_context`` of 1 KB, 100 KB and 1 MB contexts (a long
MESSAGE_HISTORY, with accents, ``&<>"`` and new lines to escape) in each wire format.

In-process, single thread: the time per operation (median of repeated runs) and MB/s.

    python bench/codec.py [--quick]
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import history, machine, median, save, table, wait_quiet  # noqa: E402

SIZES = {"1 KB": 1_000, "100 KB": 100_000, "1 MB": 1_000_000}
FORMATS = ("dataset", "recordset", "json")
TARGET_MS = 20.0  # 1 MB read + write


def make_context(fmt: str, size: int) -> bytes:
    """A context of about ``size`` bytes in ``fmt``: IN values, an INOUT history, OUTs."""
    from tests.helpers import context, out, param
    from workflowapp.context.model import Format

    fixed = [param("MODEL", "gpt-4o-mini"), param("USER_MESSAGE", "Résume la facture"),
             param("TEMPERATURE", 0.2), param("MAX_TOKENS", 256), out("RESULT_CONTENT"),
             out("RESULT_TOTAL_TOKENS", "NUMERIC"), out("APP_RESPONSE_STATUS")]
    base = len(context(*fixed, fmt=Format(fmt)))
    wanted = max(0, size - base - 120)
    params = [*fixed, param("MESSAGE_HISTORY", history(wanted), "INOUT")] if wanted else fixed
    return context(*params, fmt=Format(fmt))


def timed(operation: Callable[[], Any], budget: float, minimum: int) -> list[float]:
    """Seconds per call of ``operation`` over at least ``minimum`` runs and ``budget`` s."""
    operation()  # warm
    times: list[float] = []
    gc.collect()
    spent = 0.0
    while len(times) < minimum or spent < budget:
        began = time.perf_counter()
        operation()
        elapsed = time.perf_counter() - began
        times.append(elapsed)
        spent += elapsed
        if len(times) >= 100_000:
            break
    return times


def run(quick: bool = False) -> dict[str, Any]:
    from workflowapp.context import read_context, write_context

    busy = wait_quiet(3 if quick else 60)
    budget, minimum = (0.05, 3) if quick else (0.5, 20)
    rows = []
    for label, size in SIZES.items():
        for fmt in FORMATS:
            data = make_context(fmt, size)
            parsed = read_context(data)
            assert write_context(parsed), "the codec wrote nothing"
            read_s = median(timed(partial(read_context, data), budget, minimum))
            write_s = median(timed(partial(write_context, parsed), budget, minimum))
            megabytes = len(data) / 1e6
            rows.append({
                "size": label, "format": fmt, "bytes": len(data),
                "read_ms": read_s * 1000, "write_ms": write_s * 1000,
                "total_ms": (read_s + write_s) * 1000,
                "read_mb_s": megabytes / read_s, "write_mb_s": megabytes / write_s,
            })
    return {"benchmark": "codec", "quick": quick, "machine": machine(), "busy_before": busy,
            "rows": rows,
            "target_ms_1mb": TARGET_MS}


def report(result: dict[str, Any]) -> str:
    headers = ["size", "format", "bytes", "read ms", "write ms", "read+write ms", "read MB/s",
               "write MB/s"]
    rows = [[r["size"], r["format"], r["bytes"], r["read_ms"], r["write_ms"], r["total_ms"],
             r["read_mb_s"], r["write_mb_s"]] for r in result["rows"]]
    return ("Context codec (median per operation)\n" + table(headers, rows, digits=3)
            + f"\nTarget: a 1 MB context read + written in <= {TARGET_MS:g} ms.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short timing budget")
    args = parser.parse_args(argv)
    result = run(args.quick)
    print(report(result))
    print(f"saved {save('codec', result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
