"""Speed of version control on 10k and 1M samples, side by side with hub 2.8.5.

Run: ``python benchmarks/versioning.py [--quick] [--repeats N] [--json PATH]``. Makes hub 2.8.5's
virtualenv under ``benchmarks/.venvs/`` on first use (shared with ``benchmarks/format.py``).

For each system and size, a fresh dataset gets a ``class_label`` tensor of N samples, a commit,
and a branch ``alt`` with one changed sample committed. Then, each timed alone: a commit after
changing one sample, a checkout of ``alt`` (and back), and a diff of one uncommitted change, each
repeated five times in a row and averaged. Every run is a
subprocess of the system's own interpreter (``--run``); rounds alternate between systems; cells
are medians. The target: each figure at 1M within 1.2x of 10k, and at least 2x faster than
hub 2.8.5 at 1M.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

OPERATIONS = ("commit", "checkout", "diff", "diff again")
OURS, HUB285 = "hub (ours)", "hub 2.8.5"
ROUNDS = 5


def run_one(path: str, n: int) -> dict[str, float]:
    """Set up a dataset of ``n`` labels at ``path`` with this interpreter's hub, then time each operation."""
    import hub

    ds = hub.empty(path, overwrite=True)
    ds.create_tensor("labels", htype="class_label")
    ds.labels.extend((np.arange(n) % 10).astype(np.uint32))
    ds.commit("base")
    ds.checkout("alt", create=True)
    ds.labels[1] = np.array([7], dtype=np.uint32)
    ds.commit("alt change")
    ds.checkout("main")
    # The set-up wrote the whole dataset; its write-back would otherwise land in the timed operations' fsyncs
    # (ext4 commits its journal with the dirty data of the transaction), more of it the bigger the dataset.
    os.sync()

    out = {}
    # Each operation is timed ROUNDS times in a row and averaged: one run of it takes milliseconds.
    total = 0.0
    for i in range(ROUNDS):
        ds.labels[5 + i] = np.array([3], dtype=np.uint32)
        t = time.perf_counter()
        ds.commit(f"one sample ({i})")
        total += time.perf_counter() - t
    out["commit"] = total / ROUNDS

    total = 0.0
    for _ in range(ROUNDS):
        t = time.perf_counter()
        ds.checkout("alt")
        ds.checkout("main")
        total += (time.perf_counter() - t) / 2
    out["checkout"] = total / ROUNDS

    total = again = 0.0
    for i in range(ROUNDS):
        ds.labels[50 + i] = np.array([4], dtype=np.uint32)
        t = time.perf_counter()
        ds.diff(as_dict=True)
        total += time.perf_counter() - t
        # The same diff again: the first one runs on caches the update just filled with its chunk (4 MB at 1M
        # samples, 40 kB at 10k), which shows at this scale (tens of microseconds) though the work is the same.
        t = time.perf_counter()
        ds.diff(as_dict=True)
        again += time.perf_counter() - t
    out["diff"] = total / ROUNDS
    out["diff again"] = again / ROUNDS
    return out


def _hub285_python() -> tuple[str | None, str]:
    from _common import HUB285_REQUIREMENTS, PeerInstallError, peer_python

    try:
        return str(peer_python("hub285", HUB285_REQUIREMENTS)), ""
    except PeerInstallError as e:
        return None, str(e)


def measure(python: str, env: dict[str, str], path: Path, n: int) -> dict[str, float]:
    done = subprocess.run(
        [python, __file__, "--run", str(path), str(n)], capture_output=True, text=True, env=env, timeout=1800
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="200k instead of 1M samples")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--run", nargs=2, metavar=("PATH", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run:
        print(json.dumps(run_one(args.run[0], int(args.run[1]))))
        return 0

    sizes = [10_000, 200_000 if args.quick else 1_000_000]
    repeats = max(3, args.repeats)
    hub285, why = _hub285_python()
    results: dict[str, dict[int, list[dict[str, float]]]] = {OURS: {}, HUB285: {}}
    failures: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="hub-vc-bench-") as tmp:
        work = Path(tmp)
        systems = {OURS: (sys.executable, dict(os.environ))}
        if hub285 is not None:
            from _common import hub285_env

            systems[HUB285] = (hub285, hub285_env(work))
        else:
            failures[HUB285] = why
        for _ in range(repeats):
            for n in sizes:
                for name, (python, env) in systems.items():
                    if name in failures:
                        continue
                    try:
                        run = measure(python, env, work / f"{'ours' if name == OURS else 'hub285'}-{n}", n)
                    except (RuntimeError, subprocess.TimeoutExpired) as e:
                        failures[name] = str(e)
                        continue
                    results[name].setdefault(n, []).append(run)

    def median(name: str, n: int, op: str) -> float | None:
        runs = results[name].get(n)
        return statistics.median(r[op] for r in runs) if runs else None

    def ms(value: float | None) -> str:
        if value is None:
            return "n/a"
        return f"{value * 1000:.2f} ms" if value >= 1e-3 else f"{value * 1e6:.0f} us"

    big, small = sizes[1], sizes[0]
    lines = [
        f"| operation | ours {small:,} | ours {big:,} | ours {big:,}/{small:,} (target <= 1.2) "
        f"| hub 2.8.5 {small:,} | hub 2.8.5 {big:,} | hub 2.8.5 / ours at {big:,} (target >= 2) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for op in OPERATIONS:
        o_small, o_big = median(OURS, small, op), median(OURS, big, op)
        h_small, h_big = median(HUB285, small, op), median(HUB285, big, op)
        flat = f"{o_big / o_small:.2f}" if o_small and o_big else "n/a"
        speedup = f"{h_big / o_big:.1f}x" if h_big and o_big else "n/a"
        lines.append(f"| {op} | {ms(o_small)} | {ms(o_big)} | {flat} | {ms(h_small)} | {ms(h_big)} | {speedup} |")
    table = "\n".join(lines)
    print(table)
    for name, reason in failures.items():
        print(f"\n{name}: n/a ({reason})")
    if args.json:
        args.json.write_text(json.dumps({"results": results, "failures": failures, "table": table}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
