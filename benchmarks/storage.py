"""Read throughput of hub's S3 and local storage against the plainest code that does the same.

Run: ``python benchmarks/storage.py [--quick] [--repeats N] [--json PATH]``.

S3 runs against moto's ThreadedMotoServer on 127.0.0.1, started in a child process so that
the server does not share the benchmark's interpreter lock. Loopback has almost no latency,
so these numbers measure the per-request cost of each client, not how well it hides the
latency of a real S3 endpoint (that needs a delaying proxy, which comes later).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from functools import partial
from importlib.metadata import version
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from hub.storage import LocalStorage, S3Storage, Storage

SEED = 20240601
BUCKET = "hub-bench"
# Dummy credentials: the benchmark talks only to its own moto server, never to AWS.
CREDS = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench", "region_name": "us-east-1"}


@dataclass
class Row:
    """One scenario's medians: ours against its baseline, over the same objects."""

    scenario: str
    baseline: str
    objects: int
    megabytes: float
    ours_seconds: float
    baseline_seconds: float

    @property
    def ratio(self) -> float:
        return self.baseline_seconds / self.ours_seconds


def _serve_moto(ready: Any, stop: Any) -> None:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    ready.put(server.get_host_and_port()[1])
    stop.wait()
    server.stop()


def _baseline_client(endpoint: str) -> Any:
    """A boto3 client configured like S3Storage's, for the sequential loop."""
    config = Config(
        max_pool_connections=S3Storage.max_workers,
        retries={"total_max_attempts": 1},
        connect_timeout=10,
        read_timeout=60,
        s3={"addressing_style": "path"},
    )
    session = boto3.Session(
        aws_access_key_id=CREDS["aws_access_key_id"],
        aws_secret_access_key=CREDS["aws_secret_access_key"],
        region_name=CREDS["region_name"],
    )
    return session.client("s3", endpoint_url=endpoint, config=config)


def _measure(
    scenario: str,
    baseline: str,
    values: dict[str, bytes],
    ours: Callable[[], Iterable[bytes]],
    plain: Callable[[], Iterable[bytes]],
    repeats: int,
) -> Row:
    """Medians over ``repeats`` rounds of ours then baseline, alternating, after one untimed warm-up of each."""
    expected = sum(len(v) for v in values.values())
    times: dict[str, list[float]] = {"ours": [], "baseline": []}
    for _ in range(repeats + 1):
        for name, run in (("ours", ours), ("baseline", plain)):
            started = time.perf_counter()
            got = run()
            times[name].append(time.perf_counter() - started)
            read = sum(map(len, got))
            del got  # free this round's copies before the next round allocates its own
            if read != expected:
                raise AssertionError(f"{scenario}: {name} read {read} bytes, expected {expected}")
    return Row(
        scenario,
        baseline,
        len(values),
        expected / 1e6,
        statistics.median(times["ours"][1:]),
        statistics.median(times["baseline"][1:]),
    )


def _objects(rng: random.Random, count: int, size: int, label: str) -> dict[str, bytes]:
    return {f"{label}/{i:05d}": rng.randbytes(size) for i in range(count)}


def _get_many(store: Storage, keys: list[str]) -> Iterable[bytes]:
    return store.get_many(keys).values()


def _get_each(store: Storage, keys: list[str]) -> Iterable[bytes]:
    return [store.get(key) for key in keys]


def _boto3_loop(client: Any, keys: list[str]) -> Iterable[bytes]:
    return [client.get_object(Bucket=BUCKET, Key=f"bench/{key}")["Body"].read() for key in keys]


def _open_loop(paths: list[str]) -> Iterable[bytes]:
    out = []
    for path in paths:
        with open(path, "rb") as f:
            out.append(f.read())
    return out


def bench_s3(sets: dict[str, dict[str, bytes]], repeats: int) -> list[Row]:
    """S3Storage.get_many against a sequential boto3 loop, on a moto server in a child process."""
    ctx = mp.get_context("spawn")
    ready, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=_serve_moto, args=(ready, stop), daemon=True)
    server.start()
    rows = []
    try:
        endpoint = f"http://127.0.0.1:{ready.get(timeout=60)}"
        client = _baseline_client(endpoint)
        client.create_bucket(Bucket=BUCKET)
        store = S3Storage(f"s3://{BUCKET}/bench", creds={**CREDS, "endpoint_url": endpoint})
        for label, values in sets.items():
            with ThreadPoolExecutor(S3Storage.max_workers) as pool:
                list(pool.map(store.set, values, values.values()))
            keys = list(values)
            ours, plain = partial(_get_many, store, keys), partial(_boto3_loop, client, keys)
            rows.append(_measure(f"S3 get_many, {label}", "boto3 get_object loop", values, ours, plain, repeats))
    finally:
        stop.set()
        server.join(30)
    return rows


def bench_local(sets: dict[str, dict[str, bytes]], repeats: int) -> list[Row]:
    """LocalStorage.get_many and .get against open().read() on the same files."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="hub-bench-") as root:
        local = LocalStorage(root, fsync=False)
        for label, values in sets.items():
            for key, value in values.items():
                local.set(key, value)
            keys = list(values)
            plain = partial(_open_loop, [str(Path(root, *key.split("/"))) for key in keys])
            for scenario, ours in (("get_many", _get_many), ("get per key", _get_each)):
                rows.append(
                    _measure(
                        f"local {scenario}, {label}",
                        "open().read() loop",
                        values,
                        partial(ours, local, keys),
                        plain,
                        repeats,
                    )
                )
    return rows


def run(quick: bool, repeats: int) -> list[Row]:
    rng = random.Random(SEED)
    scale = 4 if quick else 1
    sets = {
        "1 MiB": _objects(rng, 200 // scale, 2**20, "large"),
        "16 KiB": _objects(rng, 2000 // scale, 16 * 2**10, "small"),
    }
    return bench_s3(sets, repeats) + bench_local(sets, repeats)


def machine() -> dict[str, Any]:
    memory = "unknown"
    try:
        with open("/proc/meminfo") as f:
            memory = f"{int(f.readline().split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "memory": memory,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "boto3": version("boto3"),
        "moto": version("moto"),
    }


def table(rows: list[Row]) -> str:
    lines = [
        "| scenario | ours MB/s | ours objects/s | baseline | baseline MB/s | baseline objects/s | ours / baseline |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r.scenario} | {r.megabytes / r.ours_seconds:,.0f} | {r.objects / r.ours_seconds:,.0f} "
            f"| {r.baseline} | {r.megabytes / r.baseline_seconds:,.0f} | {r.objects / r.baseline_seconds:,.0f} "
            f"| {r.ratio:.2f}x |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="a quarter of the objects, for a smoke run")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds per scenario (median; at least 3)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)
    repeats = max(3, args.repeats)

    started = time.perf_counter()
    rows = run(args.quick, repeats)
    info = machine()
    print(
        f"{info['cpus']} CPUs, {info['memory']}, Python {info['python']}, {info['platform']}, "
        f"boto3 {info['boto3']}, moto {info['moto']}; median of {repeats} alternating rounds"
        + (" (--quick)" if args.quick else "")
    )
    print()
    print(table(rows))
    print()
    print(
        "S3 is moto on 127.0.0.1 with almost no latency: the S3 rows compare per-request client cost, not "
        "latency hiding, which a real endpoint (or a delaying proxy) would show. Local reads come from a warm "
        "page cache."
    )
    print(f"Total time {time.perf_counter() - started:.0f} s.")
    if args.json:
        payload = {
            "machine": info,
            "quick": args.quick,
            "repeats": repeats,
            "rows": [{**asdict(r), "ratio": r.ratio} for r in rows],
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
