"""Transform benchmark (issue 8): ingest JPEG files with a resize-and-re-encode ``@hub.compute`` transform.

Side by side in one run, alternating rounds, each run a fresh process: ours serial, ours ``processed`` with
2 workers, a plain ``multiprocessing.Pool`` of 2 doing the same work and writing one file per image (the
practical limit), and ``hub==2.8.5``'s ``hub.compute`` with 2 processed workers (in a virtualenv of its own).
Prints the medians and the ratios the issue sets as targets.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import HUB285_REQUIREMENTS, PeerInstallError, hub285_env, load_average, machine, peer_python
from data import write_jpegs

HERE = Path(__file__).resolve().parent
#: name -> (runner system, workers)
SYSTEMS = {
    "ours serial": ("hub", 0),
    "ours processed x2": ("hub", 2),
    "multiprocessing.Pool x2 (files)": ("pool", 2),
    "hub 2.8.5 processed x2": ("hub285", 2),
}
#: (system, reference, target): ours processed must be at least ``target`` times as fast as ``reference``.
TARGETS = [
    ("ours processed x2", "ours serial", 1.7),
    ("ours processed x2", "multiprocessing.Pool x2 (files)", 1.0),
    ("ours processed x2", "hub 2.8.5 processed x2", 2.0),
]


def run(python: str, system: str, paths: Path, out: Path, workers: int, env: dict[str, str] | None) -> dict[str, Any]:
    done = subprocess.run(
        [python, str(HERE / "_transform_runner.py"), system, str(paths), str(out), str(workers)],
        capture_output=True,
        text=True,
        env=env,
        cwd=HERE,
        timeout=3600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{system} failed: {done.stderr.strip().splitlines()[-1:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="1,000 images instead of 10,000")
    parser.add_argument("--repeats", type=int, default=3, help="rounds (median; at least 3)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)
    count = 1000 if args.quick else 10_000
    repeats = max(3, args.repeats)
    info = machine()
    started = time.perf_counter()
    times: dict[str, list[float]] = {name: [] for name in SYSTEMS}
    cpu: dict[str, list[float]] = {name: [] for name in SYSTEMS}
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="hub-transform-bench-") as tmp:
        workdir = Path(tmp)
        paths = workdir / "paths.txt"
        paths.write_text("\n".join(str(p) for p in write_jpegs(workdir / "jpegs", count)))
        pythons: dict[str, tuple[str, dict[str, str] | None]] = {"hub": (sys.executable, None)}
        pythons["pool"] = pythons["hub"]
        try:
            pythons["hub285"] = (str(peer_python("hub285", HUB285_REQUIREMENTS)), hub285_env(workdir))
        except PeerInstallError as e:
            notes.append(f"hub 2.8.5 unavailable: {e}")
        checksums: dict[str, set[str]] = {}
        for _ in range(repeats):
            for name, (system, workers) in SYSTEMS.items():
                if system not in pythons:
                    continue
                python, env = pythons[system]
                result = run(python, system, paths, workdir / "out", workers, env)
                if result["count"] != count:
                    notes.append(f"{name} wrote {result['count']} of {count} images")
                if result["network"]:
                    notes.append(f"{name} tried the network: {result['network']}")
                times[name].append(result["seconds"])
                cpu[name].append(result["cpu_seconds"])
                checksums.setdefault(name, set()).add(result["checksum"])
    info["load average at end"] = load_average()
    medians = {name: statistics.median(t) for name, t in times.items() if t}
    ours = {checksums.get(n, set()).__repr__() for n in ("ours serial", "ours processed x2")}
    if len(ours) != 1:
        notes.append("ours serial and processed stored different bytes")

    print(f"{info['nproc']} CPUs ({info['cpu']}), {info['memory']} memory, Python {info['python']}, {info['date']}")
    print(f"Load average at start {info['load average at start']}, at end {info['load average at end']}.")
    print(f"{count} JPEG files of 256 x 256, resized to 128 x 128 and encoded again (quality 90); median of {repeats}.")
    print()
    print("| system | seconds (median) | images/s | CPU seconds (median) |")
    print("| --- | ---: | ---: | ---: |")
    for name, seconds in medians.items():
        print(f"| {name} | {seconds:.2f} | {count / seconds:.0f} | {statistics.median(cpu[name]):.1f} |")
    print()
    print("| ours processed x2 vs | ratio | target | met |")
    print("| --- | ---: | ---: | --- |")
    results = []
    for system, reference, target in TARGETS:
        if system in medians and reference in medians:
            ratio = medians[reference] / medians[system]
            results.append({"vs": reference, "ratio": ratio, "target": target})
            print(f"| {reference} | {ratio:.2f}x | >= {target}x | {'yes' if ratio >= target else 'NO'} |")
    for note in notes or ["Every run wrote every image; ours serial and processed stored the same bytes."]:
        print(f"- {note}")
    elapsed = time.perf_counter() - started
    print(
        "CPU seconds include every worker process the run reaped (the whole work when it ran in parallel); "
        "on a machine whose CPUs other work keeps busy, wall time gains little from a second worker."
    )
    print(f"Total time {elapsed:.0f} s.")
    if args.json:
        payload = {"machine": info, "count": count, "times": times, "cpu": cpu, "ratios": results, "notes": notes}
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
