"""The benchmark harness: hub's loaders side by side with their peers, on the same data, in one run.

Run: ``python benchmarks/run.py [--scenario B1,B2,...|all] [--quick] [--repeats N] [--json PATH] [--doc PATH]``.
``--scenario format``, ``storage`` and ``versioning`` run the older scripts of the same names.

Every system runs in a fresh subprocess of its own interpreter (``_loaders.py``): ours in this one, each peer in a
virtualenv of its own made on first use (``_common.peer_python``). Within a round the systems take turns (A B C A B
C ...); each cell is the median over the rounds. Each image scenario's throughput is also given as a fraction of
the decode ceiling, simplejpeg decoding the same JPEG bytes from memory in two processes. See README.md beside this
file for what each scenario measures and how to add a system or a scenario.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
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
from data import SEED, raw_images, write_image_folder

HERE = Path(__file__).resolve().parent
RUNNER = HERE / "_loaders.py"
DOC = HERE.parent / "docs" / "benchmarks.md"
OURS = "hub (ours)"
OURS_THREADS = f"{OURS}, worker threads"
CEILING = "decode ceiling"
#: TensorFlow's own format, read with TFRecordDataset + parallel tf.io.decode_jpeg + prefetch (B7's baseline).
TFRECORD = "TFRecord + tf.io.decode_jpeg"
#: torch's CPU build; torchvision's wheels need the exact PyPI build instead (see README.md).
TORCH_CPU = "torch==2.13.0"
TORCH_PYPI = ["torch===2.13.0", "torchvision==0.28.0"]
#: The older scripts, run as they are by ``--scenario NAME``.
SCRIPTS = {
    "storage": "storage.py",
    "format": "format.py",
    "versioning": "versioning.py",
    "transform": "transform.py",
    "media": "media.py",
}


@dataclass(frozen=True)
class SystemSpec:
    """A system: how it is named in the tables, which ``_loaders.py`` class drives it, and where it runs.

    ``requirements`` of None runs it in this interpreter (ours, the ceiling and the reference); otherwise in the
    virtualenv ``venv`` holding them. ``fmt`` names the data it reads: systems sharing a format share one copy.
    """

    name: str
    api: str
    fmt: str
    venv: str = ""
    requirements: tuple[str, ...] | None = None


SYSTEMS = {
    s.name: s
    for s in (
        SystemSpec(CEILING, "ceiling", "none"),
        SystemSpec("numpy in memory", "reference", "none"),
        SystemSpec(OURS, "hub", "hub"),
        SystemSpec(OURS_THREADS, "hub-threads", "hub"),
        SystemSpec(f"{OURS} tf.data", "hub-tf", "hub"),
        SystemSpec("torchvision", "torchvision", "torchvision", "torchvision", (*TORCH_PYPI, "simplejpeg")),
        SystemSpec("hub 2.8.5", "hub285", "hub285", "hub285-torch", (*HUB285_REQUIREMENTS, TORCH_CPU)),
        SystemSpec("hub 2.8.5 tf.data", "hub285-tf", "hub285", "hub285-tf", (*HUB285_REQUIREMENTS, "tensorflow-cpu")),
        SystemSpec(TFRECORD, "tfrecord", "tfrecord"),
        SystemSpec(f"{TFRECORD}, INTEGER_ACCURATE", "tfrecord-accurate", "tfrecord"),
        SystemSpec("webdataset", "webdataset", "wds", "webdataset", (TORCH_CPU, "webdataset", "simplejpeg")),
        SystemSpec(
            "mosaicml-streaming", "streaming", "mds", "streaming", (*TORCH_PYPI, "mosaicml-streaming", "simplejpeg")
        ),
        SystemSpec("zarr 3", "zarr", "zarr", "zarr3-torch", (TORCH_CPU, "zarr>=3")),
        SystemSpec("lance", "lance", "lance", "lance", (TORCH_CPU, "pylance")),
    )
}


@dataclass(frozen=True)
class Scenario:
    """A table: one dataset read by several systems, with the batch size and the samples of each mode."""

    key: str
    title: str
    kind: str  # "jpeg" or "raw"
    systems: tuple[str, ...]
    batch_size: int
    full: int
    quick: int
    max_seconds: float = 60.0
    remote: bool = False


SCENARIOS = {
    s.key: s
    for s in (
        Scenario(
            "B1",
            "256x256 JPEGs into PyTorch: 2 workers, batch 64, shuffle on",
            "jpeg",
            (OURS, OURS_THREADS, "torchvision", "webdataset", "mosaicml-streaming", "hub 2.8.5"),
            64,
            full=10_000,
            quick=2000,
        ),
        Scenario(
            "B2",
            "raw 32x32x3 uint8 into PyTorch: 2 workers, batch 256, shuffle on",
            "raw",
            (
                "numpy in memory",
                OURS,
                OURS_THREADS,
                "torchvision",
                "webdataset",
                "mosaicml-streaming",
                "zarr 3",
                "lance",
                "hub 2.8.5",
            ),
            256,
            full=50_000,
            quick=10_000,
        ),
        Scenario(
            "B5",
            "the B1 JPEGs streamed from moto S3 on 127.0.0.1 behind the delaying proxy, 2 workers, batch 64, shuffle",
            "jpeg",
            (OURS, "webdataset", "mosaicml-streaming"),
            64,
            full=10_000,
            quick=2000,
            remote=True,
        ),
        Scenario(
            "B7",
            "256x256 JPEGs into tf.data: batch 64, shuffle on, prefetch",
            "jpeg",
            (f"{OURS} tf.data", TFRECORD, f"{TFRECORD}, INTEGER_ACCURATE", "hub 2.8.5 tf.data"),
            64,
            full=10_000,
            quick=2000,
        ),
        Scenario(
            "B8",
            "time to the first shuffled batch of the B1 JPEGs (batch 64, 2 workers)",
            "jpeg",
            (OURS, "torchvision", "webdataset", "mosaicml-streaming", "hub 2.8.5"),
            64,
            full=10_000,
            quick=2000,
            max_seconds=0.0,
        ),
    )
}


@dataclass
class Runs:
    """One system's results in one scenario, or why it has none."""

    results: list[dict[str, Any]] = field(default_factory=list)
    failure: str = ""

    def median(self, key: str) -> float | None:
        values = [r[key] for r in self.results if key in r]
        return float(statistics.median(values)) if values else None


@dataclass
class Interpreter:
    """Where a system runs: its python and environment, its versions, or why it can't run."""

    python: str = sys.executable
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    versions: str = ""
    unavailable: str = ""


_VERSIONS = (
    "import sys; from importlib.metadata import version as v, PackageNotFoundError as E\n"
    "def f(p):\n    try: return p + ' ' + v(p)\n    except E: return ''\n"
    "print(', '.join(filter(None, map(f, sys.argv[1:]))))"
)
_PACKAGES = [
    "hub-core",
    "hub-torch",
    "hub-tensorflow",
    "hub",
    "torch",
    "torchvision",
    "tensorflow-cpu",
    "tensorflow",
    "simplejpeg",
    "numpy",
]


class Harness:
    """Makes the data, the interpreters and each system's copy of the data, then runs rounds of one scenario."""

    def __init__(
        self, workdir: Path, quick: bool, repeats: int, latency: float, only: list[str], samples: int | None
    ) -> None:
        self.workdir = workdir
        self.only = only
        self.samples = samples
        self.quick = quick
        self.repeats = repeats
        self.latency = latency
        self.notes: list[str] = []
        self.network: list[str] = []
        self._interpreters: dict[str, Interpreter] = {}
        self._sources: dict[tuple[str, int], dict[str, Any]] = {}
        self._prepared: dict[tuple[str, str, int], str] = {}
        self._tasks = 0

    # ------------------------------------------------------------------ set-up
    def interpreter(self, spec: SystemSpec) -> Interpreter:
        """The interpreter ``spec`` runs in, its virtualenv made on first use."""
        key = spec.venv or "this"
        if key in self._interpreters:
            return self._interpreters[key]
        found = Interpreter()
        if spec.requirements is not None:
            try:
                print(f"  virtualenv {spec.venv}: {' '.join(spec.requirements)}", flush=True)
                found.python = str(peer_python(spec.venv, spec.requirements))
                found.env = peer_env()
            except PeerInstallError as e:
                found.unavailable = f"can't install: {e}"
            if spec.venv.startswith("hub285"):
                found.env = hub285_env(self.workdir)
        if not found.unavailable:
            done = subprocess.run([found.python, "-I", "-c", _VERSIONS, *_PACKAGES], capture_output=True, text=True)
            found.versions = done.stdout.strip()
        self._interpreters[key] = found
        return found

    def source(self, kind: str, count: int) -> dict[str, Any]:
        """The shared source data of ``kind``, made once per run under the work directory."""
        if (kind, count) in self._sources:
            return self._sources[(kind, count)]
        folder = self.workdir / "source" / f"{kind}-{count}"
        started = time.perf_counter()
        if kind == "jpeg":
            manifest = folder / "manifest.tsv"
            entries = write_image_folder(folder / "images", count)
            manifest.write_text("".join(f"{rel}\t{label}\n" for rel, label in entries))
            source = {"kind": kind, "root": str(folder / "images"), "manifest": str(manifest), "count": count}
        else:
            images, labels = raw_images(count)
            folder.mkdir(parents=True)
            np.save(folder / "images.npy", images)
            np.save(folder / "labels.npy", labels)
            source = {"kind": kind, "images": str(folder / "images.npy"), "labels": str(folder / "labels.npy")}
            source["count"] = count
        print(f"  made {count} {kind} samples in {time.perf_counter() - started:.0f} s", flush=True)
        self._sources[(kind, count)] = source
        return source

    def prepared(self, spec: SystemSpec, source: dict[str, Any]) -> str:
        """``spec``'s copy of ``source`` in its own format, written by the system itself, once per run."""
        key = (spec.fmt, source["kind"], source["count"])
        if key not in self._prepared:
            dest = self.workdir / "prepared" / f"{spec.fmt}-{source['kind']}-{source['count']}"
            result = self.run(spec, {"op": "prepare", "source": source, "dest": str(dest)})
            print(f"  {spec.name}: wrote its {source['kind']} copy in {result['seconds']:.1f} s", flush=True)
            self._prepared[key] = str(dest)
        return self._prepared[key]

    # ------------------------------------------------------------------ running
    def run(self, spec: SystemSpec, task: dict[str, Any], timeout: float = 1200) -> dict[str, Any]:
        """One task in ``spec``'s interpreter; raises RuntimeError with the reason if it fails."""
        interpreter = self.interpreter(spec)
        if interpreter.unavailable:
            raise RuntimeError(interpreter.unavailable)
        self._tasks += 1
        path = self.workdir / "tasks" / f"{self._tasks:04d}.json"
        path.parent.mkdir(exist_ok=True)
        result = path.with_suffix(".result")
        defaults = {"api": spec.api, "dest": "", "batch_size": 64, "workers": 2, "seed": SEED, "max_seconds": 60}
        path.write_text(json.dumps({**defaults, **task, "result": str(result)}))
        # Whatever a system leaves in its temporary folder (MosaicML Streaming's file locks, caches) goes into the
        # run's scratch folder, which the run removes.
        scratch = self.workdir / "tmp"
        scratch.mkdir(exist_ok=True)
        try:
            done = subprocess.run(
                [interpreter.python, "-I", str(RUNNER), str(path)],
                env={**interpreter.env, "TMPDIR": str(scratch)},
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"timed out after {timeout:.0f} s") from None
        if done.returncode != 0 or not result.exists():
            lines = [line for line in done.stderr.splitlines() if line.strip()] or [f"exit code {done.returncode}"]
            raise RuntimeError(lines[-1][:300])
        out: dict[str, Any] = json.loads(result.read_text())
        self.network += [f"{spec.name}: {attempt}" for attempt in out.get("network", [])]
        return out

    def count(self, scenario: Scenario) -> int:
        return self.samples or (scenario.quick if self.quick else scenario.full)

    def scenario(self, scenario: Scenario) -> dict[str, Runs]:
        """Each system's runs of ``scenario``, rounds alternating between the systems."""
        source = self.source(scenario.kind, self.count(scenario))
        specs = [SYSTEMS[name] for name in scenario.systems if not self.only or any(o in name for o in self.only)]
        if scenario.kind == "jpeg" and scenario.max_seconds > 0:
            specs.insert(0, SYSTEMS[CEILING])
        runs = {spec.name: Runs() for spec in specs}
        tasks: dict[str, dict[str, Any]] = {}
        for spec in specs:
            try:
                dest = self.prepared(spec, source) if spec.fmt != "none" else ""
            except RuntimeError as e:
                runs[spec.name].failure = f"preparing its data failed: {e}"
                continue
            tasks[spec.name] = {
                "op": "load",
                "source": source,
                "dest": dest,
                "batch_size": scenario.batch_size,
                "max_seconds": scenario.max_seconds,
            }
        # What the preparations wrote goes to disk before any pass: a pass timed while the kernel writes back the
        # data just prepared (one system's, or another's) would pay for it at random.
        os.sync()
        with self.remote(scenario, tasks):
            for round_ in range(self.repeats):
                for spec in specs:
                    outcome = runs[spec.name]
                    if outcome.failure:
                        continue
                    try:
                        result = self.run(spec, {**tasks[spec.name], "seed": SEED + round_})
                    except RuntimeError as e:
                        outcome.failure = str(e)
                        self.notes.append(f"{scenario.key}, {spec.name}: {e}")
                        continue
                    if "unavailable" in result:
                        outcome.failure = result["unavailable"]
                        print(f"  {scenario.key}: {spec.name} {outcome.failure}", flush=True)
                        continue
                    outcome.results.append(result)
                    print(f"  {scenario.key} round {round_ + 1}: {spec.name} {_brief(result)}", flush=True)
        self.check(scenario, runs, source)
        return runs

    @contextmanager
    def remote(self, scenario: Scenario, tasks: dict[str, dict[str, Any]]) -> Iterator[None]:
        """For a remote scenario, the prepared copies uploaded to the delayed S3 server for the time of the runs."""
        if not scenario.remote:
            yield
            return
        with delayed_s3(self.latency) as (direct, delayed):
            client = _s3_client(direct)
            client.create_bucket(Bucket=BUCKET)
            # Public like a published dataset's bucket: WebDataset reads shards over plain http.
            policy = {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::{BUCKET}/*",
                    }
                ]
            }
            client.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(policy))
            uploaded: dict[str, list[str]] = {}
            for task in tasks.values():
                if task["dest"]:
                    if task["dest"] not in uploaded:
                        uploaded[task["dest"]] = _upload(client, Path(task["dest"]))
                    prefix, keys = Path(task["dest"]).name, uploaded[task["dest"]]
                    task["remote"] = {"bucket": BUCKET, "prefix": prefix, "endpoint": delayed, "creds": CREDS}
                    task["remote"]["keys"] = keys
            yield

    def check(self, scenario: Scenario, runs: dict[str, Runs], source: dict[str, Any]) -> None:
        """Note any full pass that didn't read every sample exactly as often as the source holds it."""
        if scenario.max_seconds <= 0:
            return
        expected = self._label_sum(source)
        for name, outcome in runs.items():
            for r in outcome.results:
                complete = r["seconds"] < scenario.max_seconds and "label_sum" in r
                if complete and (r["samples"] != source["count"] or r["label_sum"] != expected):
                    self.notes.append(
                        f"{scenario.key}, {name}: a pass read {r['samples']} samples (label sum {r['label_sum']}), "
                        f"expected {source['count']} (label sum {expected})"
                    )

    @staticmethod
    def _label_sum(source: dict[str, Any]) -> int:
        if source["kind"] == "jpeg":
            lines = Path(source["manifest"]).read_text().splitlines()
            return sum(int(line.split("\t")[1]) for line in lines)
        return int(np.load(source["labels"]).sum())


# ---------------------------------------------------------------------- S3
BUCKET = "hub-bench"
#: Dummy credentials: the benchmark talks only to its own moto server, never to AWS.
CREDS = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench", "region_name": "us-east-1"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def delayed_s3(latency: float) -> Iterator[tuple[str, str]]:
    """A moto S3 server on 127.0.0.1 and a delaying proxy before it, each a process of its own.

    Yields the server's endpoint (for uploads) and the proxy's (for the timed reads).
    """
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    proxy = subprocess.Popen(
        [sys.executable, str(HERE / "_proxy.py"), str(port), "--latency-ms", str(latency * 1e3)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proxy.stdout is not None
        proxy_port = int(proxy.stdout.readline())
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the moto S3 server did not start") from None
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}", f"http://127.0.0.1:{proxy_port}"
    finally:
        for process in (proxy, server):
            process.terminate()
            process.wait(30)


def _s3_client(endpoint: str) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, **CREDS)


def _upload(client: Any, folder: Path) -> list[str]:
    """Every file under ``folder`` to ``BUCKET/<folder name>/<relative path>``; returns the relative keys."""
    from concurrent.futures import ThreadPoolExecutor

    files = [p for p in sorted(folder.rglob("*")) if p.is_file()]
    keys = [p.relative_to(folder).as_posix() for p in files]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda p, k: client.upload_file(str(p), BUCKET, f"{folder.name}/{k}"), files, keys))
    return keys


def _brief(result: dict[str, Any]) -> str:
    return (
        (f"{result['samples_per_second']:,.0f} samples/s" if result["samples_per_second"] else "")
        + (f", first batch {result['first_batch_seconds']:.2f} s" if "first_batch_seconds" in result else "")
        + (f", {result['peak_memory_bytes'] / 2**20:,.0f} MiB" if "peak_memory_bytes" in result else "")
    )


# ---------------------------------------------------------------------- tables
def _number(value: float | None, digits: int = 0) -> str:
    return "" if value is None else f"{value:,.{digits}f}"


def _times(ours: float | None, theirs: float | None) -> str:
    return f"{ours / theirs:.2f}x" if ours and theirs else ""


def table(scenario: Scenario, runs: dict[str, Runs]) -> str:
    """The scenario's markdown table: a row per system, with ratios to ours and to the ceiling."""
    reference = next((name for name in scenario.systems if name.startswith(OURS)), OURS)
    ours = runs.get(reference, Runs())
    ceiling = runs.get(CEILING, Runs()).median("samples_per_second")
    if scenario.max_seconds <= 0:
        lines = [
            "| system | time to first batch (s) | ours is faster by | peak memory (MiB) |",
            "| --- | ---: | ---: | ---: |",
        ]
        for name, outcome in runs.items():
            first = outcome.median("first_batch_seconds")
            if first is None:
                lines.append(f"| {name} | {_na(outcome)} |  |  |")
                continue
            memory = outcome.median("peak_memory_bytes")
            faster = "" if name == reference else _times(first, ours.median("first_batch_seconds"))
            lines.append(f"| {name} | {_number(first, 2)} | {faster} | {_number(memory and memory / 2**20)} |")
        return "\n".join(lines)
    lines = [
        "| system | samples/s | ours / system | fraction of ceiling | time to first batch (s) | end of iteration (s) "
        "| peak memory (MiB) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    ours_speed = ours.median("samples_per_second")
    for name, outcome in runs.items():
        speed = outcome.median("samples_per_second")
        if speed is None:
            lines.append(f"| {name} | {_na(outcome)} |  |  |  |  |  |")
            continue
        memory = outcome.median("peak_memory_bytes")
        cells = [
            _number(speed),
            "" if name == reference else _times(ours_speed, speed),
            f"{speed / ceiling:.2f}" if ceiling and scenario.kind == "jpeg" else "",
            _number(outcome.median("first_batch_seconds"), 2),
            _number(outcome.median("end_seconds"), 2),
            _number(memory and memory / 2**20),
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _na(outcome: Runs) -> str:
    return f"n/a: {outcome.failure or 'no result'}".replace("|", "/")


def write_doc(path: Path, key: str, section: str) -> None:
    """Replace scenario ``key``'s section of ``path`` (between its markers), or append it."""
    start, end = f"<!-- bench {key} -->", f"<!-- /bench {key} -->"
    text = path.read_text() if path.exists() else ""
    block = f"{start}\n{section}\n{end}"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        text = before + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)


def _git_commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    choices = [*SCENARIOS, *SCRIPTS]
    parser.add_argument("--scenario", default="all", help=f"comma-separated, of {', '.join(choices)}; or all")
    parser.add_argument("--quick", action="store_true", help="fewer samples and a cap per pass (<= 5 minutes)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds per scenario (median; at least 3)")
    parser.add_argument("--systems", help="comma-separated: run only the systems whose names contain one of these")
    parser.add_argument("--samples", type=int, help="override the scenario's sample count (for trying things out)")
    parser.add_argument("--latency-ms", type=float, default=30.0, help="delay the S3 proxy adds to each request")
    parser.add_argument("--json", type=Path, help="write the results here (default benchmarks/results/*.json)")
    parser.add_argument("--doc", type=Path, help="update the scenarios' tables in this file (full runs: docs/...)")
    args = parser.parse_args(argv)
    # A quick run of everything is the loader scenarios alone: the scripts' quick runs take minutes more.
    everything = list(SCENARIOS) + ([] if args.quick else list(SCRIPTS))
    wanted = everything if args.scenario == "all" else args.scenario.split(",")
    unknown = [key for key in wanted if key not in choices]
    if unknown:
        parser.error(f"unknown scenario {', '.join(unknown)}; choose from {', '.join(choices)}")
    repeats = max(3, args.repeats)
    for key in (k for k in wanted if k in SCRIPTS):
        flags = ["--quick"] if args.quick else []
        subprocess.run([sys.executable, str(HERE / SCRIPTS[key]), *flags, "--repeats", str(repeats)], check=False)
    keys = [k for k in wanted if k in SCENARIOS]
    if not keys:
        return 0

    started = time.perf_counter()
    info = {**machine(), "commit": _git_commit()}
    results: dict[str, Any] = {}
    sections: dict[str, str] = {}
    speeds: dict[str, float | None] = {}
    with tempfile.TemporaryDirectory(prefix="hub-bench-") as tmp:
        only = args.systems.split(",") if args.systems else []
        harness = Harness(Path(tmp), args.quick, repeats, args.latency_ms / 1e3, only, args.samples)
        for key in keys:
            scenario = SCENARIOS[key]
            count = harness.count(scenario)
            print(f"\n{key}: {scenario.title}, {count:,} samples", flush=True)
            runs = harness.scenario(scenario)
            load = load_average()
            header = (
                f"**{key}: {scenario.title}**, {count:,} samples"
                + (f", {args.latency_ms:.0f} ms added per request" if scenario.remote else "")
                + f"; median of {repeats} alternating rounds"
                + (" (--quick)" if args.quick else "")
                + f". {info['date']}, commit {info['commit']}, {info['nproc']} CPUs ({info['cpu']}), "
                f"{info['memory']}; load average {info['load average at start']} at the start, {load} after {key}."
            )
            versions = [
                f"- {spec.name}: {harness.interpreter(spec).unavailable or harness.interpreter(spec).versions}"
                for spec in (SYSTEMS[name] for name in runs)
            ]
            speeds[key] = runs.get(OURS, Runs()).median("samples_per_second")
            local = speeds.get("B1") if scenario.remote else None
            if local and speeds[key]:
                versions.append(
                    f"- ours streamed from the delayed S3 / ours from local disk (B1): {speeds[key] / local:.2f}x"
                )
            sections[key] = "\n".join([header, "", table(scenario, runs), "", *versions])
            print("\n" + sections[key], flush=True)
            results[key] = {
                "title": scenario.title,
                "samples": count,
                "runs": {name: asdict(r) for name, r in runs.items()},
                "table": table(scenario, runs),
            }
        notes = harness.notes
        network = sorted(set(harness.network))
    for note in notes:
        print(f"- {note}")
    print(f"- Network: {'attempted by ' + '; '.join(network) if network else 'no run tried to reach past loopback'}.")
    elapsed = time.perf_counter() - started
    print(f"Total time {elapsed:.0f} s.")
    json_path = args.json or HERE / "results" / f"loaders{'-quick' if args.quick else ''}.json"
    json_path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"machine": info, "quick": args.quick, "repeats": repeats, "scenarios": results, "notes": notes}
    json_path.write_text(json.dumps({**payload, "network_attempts": network, "seconds": elapsed}, indent=1) + "\n")
    # Only a complete full run replaces the published tables by default.
    doc = args.doc or (None if args.quick or args.systems or args.samples else DOC)
    if doc is not None:
        for key, section in sections.items():
            write_doc(doc, key, section)
        print(f"Updated {doc}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
