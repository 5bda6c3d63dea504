"""Draw the latest benchmark results (bench/results/*-latest.json) as PNGs in docs/.

    python bench/plot.py [--results bench/results] [--out docs]

docs/bench-latency.png   p50/p99 of OPENAICHAT through the host vs direct to the upstream
docs/bench-capacity.png  throughput through the host vs direct, per concurrency (and per
                         serving model when ``capacity.py --compare`` was run)
docs/bench-codec.png     context read/write speed per size and format
Needs matplotlib (``pip install matplotlib``; a benchmark tool, not a host dependency).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import RESULTS, ROOT  # noqa: E402

COLORS = {"direct": "#8c8c8c", "dataset": "#1f77b4", "json": "#ff7f0e", "recordset": "#2ca02c",
          "host": "#1f77b4", "baseline": "#9467bd"}


def _load(folder: Path, name: str) -> dict[str, Any] | None:
    path = folder / f"{name}-latest.json"
    if not path.is_file():
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _footer(fig: Any, result: dict[str, Any]) -> None:
    info = result.get("machine", {})
    fig.text(0.01, 0.01, f"{info.get('nproc')} cores, {info.get('cpu')}, Python "
             f"{info.get('python')}, {info.get('date', '')[:10]}", fontsize=7, color="#666666")


def plot_latency(result: dict[str, Any], out: Path) -> Path:
    import matplotlib.pyplot as plt

    cases = result["cases"]
    labels = [f"{c['delay_ms']} ms upstream\nconcurrency {c['concurrency']}" for c in cases]
    targets = ["direct", "baseline", "dataset", "json"]
    names = {"direct": "direct to upstream", "baseline": "minimal pass-through"}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for axis, key, title in ((axes[0], "p50_ms", "p50"), (axes[1], "p99_ms", "p99")):
        width = 0.2
        for index, target in enumerate(targets):
            values = [next((r[key] for r in c["rows"] if r["target"] == target), 0.0)
                      for c in cases]
            positions = [i + (index - 1.5) * width for i in range(len(cases))]
            label = names.get(target, f"through host ({target})")
            axis.bar(positions, values, width, label=label, color=COLORS[target])
        axis.set_xticks(range(len(cases)), labels, fontsize=8)
        axis.set_ylabel("ms")
        axis.set_title(f"OPENAICHAT latency, {title}")
        axis.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=8)
    _footer(fig, result)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    path = out / "bench-latency.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_capacity(result: dict[str, Any], compare: dict[str, Any] | None, out: Path) -> Path:
    import matplotlib.pyplot as plt

    panels = 2 if compare else 1
    fig, axes = plt.subplots(1, panels, figsize=(6 * panels, 4.2), squeeze=False)
    rows = [r for r in result["rows"] if "failed" not in r]
    axis = axes[0][0]
    labels = [f"{r['concurrency']} calls\n{r['mode']}" for r in rows]
    width = 0.27
    axis.bar([i - width for i in range(len(rows))], [r["direct_rps"] for r in rows], width,
             label="direct to upstream", color=COLORS["direct"])
    series = [("host", "through host", rows, 0.0)]
    passthrough = [r.get("baseline") or {} for r in rows]
    if any(passthrough):
        series.append(("baseline", "minimal pass-through", passthrough, width))
    for key, label, found, shift in series:
        bars = axis.bar([i + shift for i in range(len(rows))],
                        [r.get("host_rps", 0.0) for r in found], width, label=label,
                        color=COLORS[key])
        for bar, row in zip(bars, found, strict=True):
            axis.annotate(f"{row.get('ratio', 0.0):.0%}",
                          (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                          ha="center", va="bottom", fontsize=7)
    axis.set_xticks(range(len(rows)), labels, fontsize=8)
    axis.set_ylabel("calls per second")
    axis.set_title(f"Capacity, upstream answers in {result['delay_ms'] / 1000:g} s "
                   f"({rows[0]['server'] if rows else ''})", fontsize=9)
    axis.legend(fontsize=8, loc="lower right")
    axis.grid(axis="y", alpha=0.3)
    if compare:
        axis = axes[0][1]
        found = [r for r in compare["rows"] if "failed" not in r]
        levels = sorted({r["concurrency"] for r in found})
        level = levels[-1] if levels else 0
        chosen = [r for r in found if r["concurrency"] == level and r["mode"] == "steady"]
        names = [r["server"].replace("gunicorn ", "") for r in chosen]
        ratios = [100 * r["ratio"] for r in chosen]
        colors = ["#2ca02c" if r >= 95 else "#d62728" for r in ratios]
        axis.barh(range(len(chosen)), ratios, color=colors)
        for index, row in enumerate(chosen):
            errors = row["errors"] + row["unfinished"]
            axis.annotate(f"{row['ratio']:.0%}, PSS {row['peak_pss_mib']:.0f} MiB"
                          + (f", {errors} errors" if errors else ""),
                          (max(ratios[index], 1), index), va="center", fontsize=7,
                          xytext=(3, 0), textcoords="offset points")
        axis.set_yticks(range(len(chosen)), names, fontsize=8)
        axis.invert_yaxis()
        axis.axvline(95, color="#666666", linestyle="--", linewidth=1)
        axis.set_xlim(0, 135)
        axis.set_xlabel("% of direct throughput (steady, dashed: 95 % target)")
        axis.set_title(f"Serving models, {level} concurrent calls", fontsize=9)
    _footer(fig, result)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    path = out / "bench-capacity.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_codec(result: dict[str, Any], out: Path) -> Path:
    import matplotlib.pyplot as plt

    rows = result["rows"]
    sizes = list(dict.fromkeys(r["size"] for r in rows))
    formats = list(dict.fromkeys(r["format"] for r in rows))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for axis, key, title in ((axes[0], "read_mb_s", "read_context"),
                             (axes[1], "write_mb_s", "write_context")):
        width = 0.8 / len(formats)
        for index, fmt in enumerate(formats):
            values = [next(r[key] for r in rows if r["size"] == s and r["format"] == fmt)
                      for s in sizes]
            positions = [i + (index - (len(formats) - 1) / 2) * width for i in range(len(sizes))]
            axis.bar(positions, values, width, label=fmt, color=COLORS[fmt])
        axis.set_xticks(range(len(sizes)), sizes)
        axis.set_ylabel("MB/s")
        axis.set_title(f"{title} throughput (median)")
        axis.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=8)
    _footer(fig, result)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    path = out / "bench-codec.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    args.out.mkdir(parents=True, exist_ok=True)
    written = []
    if latency := _load(args.results, "latency"):
        written.append(plot_latency(latency, args.out))
    if capacity := _load(args.results, "capacity"):
        written.append(plot_capacity(capacity, _load(args.results, "capacity-compare"),
                                     args.out))
    if codec := _load(args.results, "codec"):
        written.append(plot_codec(codec, args.out))
    for path in written:
        print(f"wrote {path}")
    if not written:
        print(f"no results in {args.results}: run bench/run_all.py first", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
