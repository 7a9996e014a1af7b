"""Speed of hub's format against the plainest code that does each job, and against hub 2.8.5 and zarr 3.

Run: ``python benchmarks/format.py [--quick] [--repeats N] [--json PATH]``. Needs hub-core and scikit-image
(for the pictures); makes the peers' virtualenvs under ``benchmarks/.venvs/`` on first use (hub 2.8.5 with
numpy<2, and zarr 3), which needs the package index.

Every system runs every operation in a subprocess of its own interpreter (``_format_runner.py``), rounds
alternating between systems; each cell is the median over the rounds, of the operation alone. All data lives in
one temporary directory on the local disk, written just before it is read: reads come from a warm page cache.
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
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
from _common import (
    HUB285_REQUIREMENTS,
    PeerInstallError,
    hub285_env,
    load_average,
    machine,
    peer_env,
    peer_python,
)
from data import SEED, write_jpegs

RUNNER = Path(__file__).resolve().parent / "_format_runner.py"
#: Columns of the table, in the order systems run within a round.
OURS, BASELINE, HUB285, ZARR = "hub (ours)", "baseline", "hub 2.8.5", "zarr 3"
#: Each system's directory for what it writes.
OUTPUTS = {OURS: "ours", BASELINE: "baseline", HUB285: "hub285", ZARR: "zarr3"}
#: The baseline of scenario 1 again, made as durable as ours: it runs in the baseline's system.
FSYNCED = "np.save + fsync"
RUN_TIMEOUT = 1200
#: Fresh memory each run touches before its clock starts (see ``Runner._settle``), besides twice what it moves.
PREFAULT_BYTES = 256 * 2**20


@dataclass(frozen=True)
class Sizes:
    """How many samples each scenario uses."""

    raw: int
    raw_slice: int
    jpegs: int
    random_reads: int
    labels: int
    small_labels: int


FULL = Sizes(raw=100_000, raw_slice=10_000, jpegs=10_000, random_reads=1000, labels=1_000_000, small_labels=10_000)
QUICK = Sizes(raw=20_000, raw_slice=10_000, jpegs=2000, random_reads=1000, labels=200_000, small_labels=10_000)


@dataclass
class System:
    """One column: an interpreter and the runner class that drives it there, or why it can't run."""

    name: str
    api: str
    python: str = sys.executable
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    version: str = ""
    unavailable: str = ""


@dataclass
class Outcome:
    """One system's runs of one operation: each run's result, or why it stopped."""

    results: list[dict[str, Any]] = field(default_factory=list)
    failure: str = ""


@dataclass
class Row:
    """A line of the table: medians per system in ``unit``, and the target for ours against the baseline."""

    scenario: str
    unit: str
    higher_is_better: bool
    baseline: str
    target: float | None
    target_text: str
    values: dict[str, float | str]
    runs: dict[str, list[float]]

    def ratio(self, other: str, reference: str = OURS) -> float | None:
        """How many times better ours is than ``other`` (speed, or the inverse of time or memory)."""
        ours, theirs = self.values.get(reference), self.values.get(other)
        if not isinstance(ours, float) or not isinstance(theirs, float) or min(ours, theirs) <= 0:
            return None
        return ours / theirs if self.higher_is_better else theirs / ours

    @property
    def missed(self) -> bool | None:
        """Whether ours missed the target; None if there is no target or nothing to compare."""
        ratio = self.ratio(BASELINE)
        return None if self.target is None or ratio is None else ratio < self.target


class Bench:
    """Runs operations on every system, in rounds, and keeps the notes the table needs."""

    def __init__(self, systems: list[System], workdir: Path, repeats: int) -> None:
        self.systems = {s.name: s for s in systems}
        self.workdir = workdir
        self.repeats = repeats
        self.notes: list[str] = []
        self.network: list[str] = []
        self._count = 0

    def run(self, system: System, task: dict[str, Any]) -> dict[str, Any]:
        """One run of ``task`` in ``system``'s interpreter; raises RuntimeError with the reason if it fails."""
        self._count += 1
        path = self.workdir / "tasks" / f"{self._count:04d}.json"
        path.parent.mkdir(exist_ok=True)
        result = path.with_suffix(".result")
        path.write_text(json.dumps({**task, "api": system.api, "result": str(result)}))
        try:
            done = subprocess.run(
                [system.python, "-I", str(RUNNER), str(path)],
                env=system.env,
                capture_output=True,
                text=True,
                timeout=RUN_TIMEOUT,
            )
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"timed out after {RUN_TIMEOUT} s") from None
        if done.returncode != 0:
            lines = [line for line in done.stderr.splitlines() if line.strip()] or [f"exit code {done.returncode}"]
            raise RuntimeError(lines[-1][:200])
        out: dict[str, Any] = json.loads(result.read_text())
        self.network += [f"{system.name}, {task['op']}: {attempt}" for attempt in out["network"]]
        return out

    def measure(
        self, tasks: Mapping[str, dict[str, Any] | str], moves: int, repeats: int | None = None
    ) -> dict[str, Outcome]:
        """Each system's results over the rounds; within a round the systems take turns.

        ``tasks`` maps a system name to its task, or to the reason it has none; a task whose ``system`` names
        another system runs there. ``moves`` is about how many bytes an operation reads or writes.
        """
        prefault = PREFAULT_BYTES + 2 * moves
        systems = {name: self.systems[t.get("system", name)] for name, t in tasks.items() if not isinstance(t, str)}
        outcomes = {name: Outcome(failure=t) if isinstance(t, str) else Outcome() for name, t in tasks.items()}
        for name, system in systems.items():
            outcomes[name].failure = system.unavailable
        for _ in range(repeats or self.repeats):
            for name, task in tasks.items():
                outcome = outcomes[name]
                if outcome.failure or isinstance(task, str):
                    continue
                try:
                    outcome.results.append(self.run(systems[name], {**task, "prefault": prefault}))
                except RuntimeError as e:
                    outcome.failure = str(e)
                    self.notes.append(f"{name}, {task['op']}: {e}")
        return outcomes

    def check(self, scenario: str, outcomes: dict[str, Outcome], reference: str = BASELINE) -> None:
        """Note any system whose reads gave other data than the reference system's."""
        expected = {r["checksum"] for r in outcomes[reference].results}
        for name, outcome in outcomes.items():
            got = {r["checksum"] for r in outcome.results}
            if got and expected and got != expected:
                self.notes.append(f"{scenario}: {name} read different data than {reference}")


def row(
    scenario: str,
    unit: str,
    outcomes: dict[str, Outcome],
    value: Callable[[dict[str, Any]], float],
    baseline: str,
    target: float | None,
    target_text: str,
    higher_is_better: bool = True,
) -> Row:
    values: dict[str, float | str] = {}
    runs: dict[str, list[float]] = {}
    for name, outcome in outcomes.items():
        if outcome.failure:
            values[name] = f"n/a ({outcome.failure})"
        elif outcome.results:
            runs[name] = [value(r) for r in outcome.results]
            values[name] = float(statistics.median(runs[name]))
    return Row(scenario, unit, higher_is_better, baseline, target, target_text, values, runs)


def _count(n: int) -> str:
    """``n`` as people say it: 10k, 1M."""
    for unit, suffix in ((10**6, "M"), (1000, "k")):
        if n % unit == 0:
            return f"{n // unit}{suffix}"
    return str(n)


def _failed(outcome: Outcome, what: str) -> str:
    return f"{what} failed" if outcome.failure or not outcome.results else ""


def raw_rows(bench: Bench, data: Path, out: Path, sizes: Sizes) -> list[Row]:
    """Scenarios 1 and 2: one numpy batch of raw 32x32x3 images written, then a contiguous slice read back."""
    batch = np.random.default_rng(SEED).integers(0, 256, (sizes.raw, 32, 32, 3), dtype=np.uint8)
    start = sizes.raw // 3
    stop = start + sizes.raw_slice
    np.save(data / "raw.npy", batch)
    np.save(data / "raw_slice.npy", batch[start:stop])
    nbytes, slice_nbytes = batch.nbytes, batch[start:stop].nbytes
    del batch

    dest = {name: str(out / OUTPUTS[name] / "raw") for name in (OURS, HUB285, ZARR)}
    dest[BASELINE] = str(out / OUTPUTS[BASELINE] / "raw.npy")
    write_tasks: dict[str, dict[str, Any]] = {
        name: {"op": "write_raw", "source": str(data / "raw.npy"), "dest": dest[name]} for name in OUTPUTS
    }
    write_tasks[FSYNCED] = {**write_tasks[BASELINE], "system": BASELINE, "fsync": True}
    writes = bench.measure(write_tasks, nbytes)
    read_tasks: dict[str, dict[str, Any] | str] = {
        BASELINE: {"op": "read_raw", "source": str(data / "raw_slice.npy")},
        **{
            name: _failed(writes[name], "write") or {"op": "read_raw", "dest": dest[name], "start": start, "stop": stop}
            for name in (OURS, HUB285, ZARR)
        },
    }
    # Ours reads whole chunks when a slice spans several: up to three times the slice.
    reads = bench.measure({name: read_tasks[name] for name in (OURS, BASELINE, HUB285, ZARR)}, 3 * slice_nbytes)
    scenario = f"2. read `images[{start}:{stop}].numpy()`, {_count(sizes.raw_slice)} samples"
    bench.check(scenario, reads)
    return [
        row(
            f"1. write {_count(sizes.raw)} raw 32x32x3 uint8 samples, one `extend` (MB/s)",
            "MB/s",
            writes,
            lambda r: nbytes / 1e6 / r["seconds"],
            "np.save",
            0.5,
            ">= 0.5",
        ),
        row(
            "1b. the same writes, against a baseline as durable as ours (ours fsyncs each chunk)",
            "MB/s",
            {OURS: writes[OURS], BASELINE: writes[FSYNCED]},
            lambda r: nbytes / 1e6 / r["seconds"],
            FSYNCED,
            None,
            "",
        ),
        row(scenario + " (MB/s)", "MB/s", reads, lambda r: slice_nbytes / 1e6 / r["seconds"], "np.load", 0.5, ">= 0.5"),
    ]


def jpeg_rows(bench: Bench, data: Path, out: Path, sizes: Sizes) -> list[Row]:
    """Scenarios 3 and 4: JPEG files appended with ``hub.read``, then single samples read at random."""
    paths = write_jpegs(data / "jpegs", sizes.jpegs)
    file_list = data / "jpegs.txt"
    file_list.write_text("\n".join(str(p) for p in paths) + "\n")
    indices = np.random.default_rng(SEED).integers(0, sizes.jpegs, sizes.random_reads).tolist()
    file_bytes, decoded_bytes = sum(p.stat().st_size for p in paths), sizes.random_reads * 256 * 256 * 3
    no_jpeg = "zarr has no JPEG sample codec"

    dest = {name: str(out / OUTPUTS[name] / "jpeg") for name in (OURS, HUB285)}
    writes = bench.measure(
        {
            OURS: {"op": "write_jpeg", "file_list": str(file_list), "dest": dest[OURS]},
            BASELINE: {"op": "write_jpeg", "file_list": str(file_list), "dest": str(out / OUTPUTS[BASELINE] / "jpeg")},
            HUB285: {"op": "write_jpeg", "file_list": str(file_list), "dest": dest[HUB285]},
            ZARR: no_jpeg,
        },
        file_bytes,
    )
    read_tasks: dict[str, dict[str, Any] | str] = {
        name: _failed(writes[name], "write") or {"op": "read_random", "dest": dest[name], "indices": indices}
        for name in dest
    }
    reads = bench.measure(
        {
            OURS: read_tasks[OURS],
            BASELINE: {"op": "read_random", "file_list": str(file_list), "indices": indices},
            HUB285: read_tasks[HUB285],
            ZARR: no_jpeg,
        },
        decoded_bytes,
    )
    scenario = f"4. random `images[i].numpy()`, {sizes.random_reads} of the 256x256 JPEGs after `hub.load`"
    bench.check(scenario, reads)
    return [
        row(
            f"3. append {_count(sizes.jpegs)} 256x256 JPEG files, `hub.read` in `with ds:` (files/s)",
            "files/s",
            writes,
            lambda r: sizes.jpegs / r["seconds"],
            "shutil.copyfile",
            0.9,
            ">= 0.9",
        ),
        row(
            scenario + " (samples/s)",
            "samples/s",
            reads,
            lambda r: sizes.random_reads / r["seconds"],
            "simplejpeg.decode_jpeg from memory",
            0.85,
            ">= 0.85",
        ),
    ]


def label_rows(bench: Bench, data: Path, out: Path, sizes: Sizes) -> list[Row]:
    """Scenarios 5 and 6: all class labels read as one array; a dataset opened, with few and with many samples."""
    labels = np.random.default_rng(SEED).integers(0, 1000, sizes.labels, dtype=np.uint32)
    np.save(data / "labels.npy", labels)
    np.save(data / "labels_small.npy", labels[: sizes.small_labels])
    big, small = _count(sizes.labels), _count(sizes.small_labels)
    systems = (OURS, HUB285, ZARR)

    def dest(name: str, size: str) -> str:
        return str(out / OUTPUTS[name] / f"labels_{size}")

    made: dict[str, dict[str, Outcome]] = {}
    for size, source in ((big, "labels.npy"), (small, "labels_small.npy")):
        made[size] = bench.measure(
            {name: {"op": "write_labels", "source": str(data / source), "dest": dest(name, size)} for name in systems},
            labels.nbytes,
            repeats=1,
        )

    def tasks(op: str, size: str) -> dict[str, dict[str, Any] | str]:
        return {name: _failed(made[size][name], "write") or {"op": op, "dest": dest(name, size)} for name in systems}

    read_tasks = {**tasks("read_labels", big), BASELINE: {"op": "read_labels", "source": str(data / "labels.npy")}}
    reads = bench.measure({name: read_tasks[name] for name in (OURS, BASELINE, HUB285, ZARR)}, labels.nbytes)
    bench.check("5. labels", reads)
    opens = {size: bench.measure(tasks("open", size), 0) for size in (small, big)}
    for size, count in ((small, sizes.small_labels), (big, sizes.labels)):
        for name, outcome in opens[size].items():
            if any(r["checksum"] != str(count) for r in outcome.results):
                bench.notes.append(f"6. open: {name} counted other than {count} samples in the {size} dataset")

    rows = [
        row(
            f"5. `labels.numpy()`, {big} class labels (samples/s)",
            "samples/s",
            reads,
            lambda r: sizes.labels / r["seconds"],
            "np.load",
            0.3,
            ">= 0.3",
        )
    ]
    for what, unit, value in (
        ("time (ms)", "ms", lambda r: r["seconds"] * 1e3),
        ("peak memory growth (MiB)", "MiB", lambda r: r["memory_bytes"] / 2**20),
    ):
        at_small = row(f"6. `hub.load` + `len`, {small} labels: {what}", unit, opens[small], value, "", None, "", False)
        at_big = row(f"6. `hub.load` + `len`, {big} labels: {what}", unit, opens[big], value, "", None, "", False)
        # The target compares ours with itself: the large dataset against the small one.
        at_big.values[BASELINE] = at_small.values.get(OURS, "n/a")
        at_big.baseline, at_big.target, at_big.target_text = f"ours at {small}", 1 / 1.2, f"{big} <= 1.2x {small}"
        rows += [at_small, at_big]
    return rows


def _number(value: float) -> str:
    for bound, unit, suffix in ((1e9, 1e9, "G"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if abs(value) >= bound:
            return f"{value / unit:.3g}{suffix}"
    return f"{value:.3g}" if abs(value) < 100 else f"{value:,.0f}"


def table(rows: list[Row]) -> str:
    def cell(r: Row, name: str) -> str:
        value = r.values.get(name, "")
        if isinstance(value, float):
            return _number(value)
        return value if len(value) <= 80 else value[:78] + "…)"

    def ratio(r: Row, name: str) -> str:
        value = r.ratio(name)
        return f"{value:.2f}x" if value is not None else ""

    lines = [
        f"| scenario | {OURS} | baseline | ours/baseline | target | {HUB285} | ours/{HUB285} | {ZARR} | ours/zarr |",
        "| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        base = f"{cell(r, BASELINE)} ({r.baseline})" if r.baseline and cell(r, BASELINE) else ""
        verdict = {True: " **missed**", False: " met", None: ""}[r.missed]
        lines.append(
            f"| {r.scenario} | {cell(r, OURS)} | {base} | {ratio(r, BASELINE)} | {r.target_text}{verdict} "
            f"| {cell(r, HUB285)} | {ratio(r, HUB285)} | {cell(r, ZARR)} | {ratio(r, ZARR)} |"
        )
    return "\n".join(lines)


_VERSIONS = (
    "import sys; from importlib.metadata import version as v; print(*(p + ' ' + v(p) for p in sys.argv[1:]), sep=', ')"
)


def _peer(name: str, api: str, venv: str, requirements: list[str], package: str) -> System:
    """A peer in its own virtualenv, made on first use; unavailable, with the reason, if it can't be installed."""
    system = System(name, api)
    try:
        system.python = str(peer_python(venv, requirements))
        system.env = peer_env()
    except PeerInstallError as e:
        system.unavailable = f"can't install: {e}"
        return system
    versions = [system.python, "-I", "-c", _VERSIONS, package, "numpy"]
    system.version = subprocess.run(versions, capture_output=True, text=True).stdout.strip()
    return system


def systems(workdir: Path) -> list[System]:
    """Ours and the baseline in this interpreter, each peer in its own virtualenv; in the order of a round."""
    hub285 = _peer(HUB285, "hub", "hub285", HUB285_REQUIREMENTS, "hub")
    hub285.env = hub285_env(workdir)
    return [
        System(OURS, "hub", version=f"hub-core {version('hub-core')}, numpy {version('numpy')}"),
        System(BASELINE, "baseline", version=f"numpy {version('numpy')}, simplejpeg {version('simplejpeg')}"),
        hub285,
        _peer(ZARR, "zarr", "zarr3", ["zarr>=3"], "zarr"),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples (about 3 minutes)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds per scenario (median; at least 3)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)
    repeats = max(3, args.repeats)
    sizes = QUICK if args.quick else FULL

    started = time.perf_counter()
    info = machine()
    with tempfile.TemporaryDirectory(prefix="hub-format-bench-") as tmp:
        workdir = Path(tmp)
        data, out = workdir / "data", workdir / "out"
        data.mkdir()
        bench = Bench(systems(workdir), workdir, repeats)
        rows = [r for scenarios in (raw_rows, jpeg_rows, label_rows) for r in scenarios(bench, data, out, sizes)]
    elapsed = time.perf_counter() - started
    info["load average at end"] = load_average()

    print(f"{info['nproc']} CPUs ({info['cpu']}), {info['memory']} memory, Python {info['python']}, {info['date']}")
    print(f"Load average at start {info['load average at start']}, at end {info['load average at end']}.")
    for s in bench.systems.values():
        print(f"- {s.name}: {s.unavailable or s.version}")
    print(f"Median of {repeats} alternating rounds" + (" (--quick)" if args.quick else "") + ".\n")
    print(table(rows))
    print()
    print(
        "Ratios are how many times faster (or smaller) ours is. Each run is a fresh process timing only the "
        "operation; all files are on one local disk in a warm page cache. Ours fsyncs every chunk it writes; "
        "np.save, zarr and hub 2.8.5 don't. hub 2.8.5 decodes JPEG with Pillow, ours and the baseline with "
        "simplejpeg."
    )
    for note in bench.notes or ["Every run succeeded and every read returned the same data as the baseline's."]:
        print(f"- {note}")
    # The runners refuse and record every connection and name lookup.
    attempts = sorted(set(bench.network))
    print(f"- Network: {'attempted by ' + '; '.join(attempts) if attempts else 'no run tried to connect anywhere'}.")
    print(f"Total time {elapsed:.0f} s.")
    if args.json:
        payload = {
            "machine": info,
            "systems": {s.name: s.unavailable or s.version for s in bench.systems.values()},
            "quick": args.quick,
            "repeats": repeats,
            "sizes": asdict(sizes),
            "rows": [
                {**asdict(r), "ratios": {name: r.ratio(name) for name in (BASELINE, HUB285, ZARR)}, "missed": r.missed}
                for r in rows
            ],
            "notes": bench.notes,
            "network_attempts": bench.network,
            "seconds": elapsed,
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
