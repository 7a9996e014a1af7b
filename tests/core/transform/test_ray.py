"""Transforms and filters on a real Ray: a local runtime, and a two-node cluster on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import hub
from hub.errors import TransformError
from tests.core.transform import transforms as tf
from tests.core.transform.test_eval import check_fan_out, stored

ray = pytest.importorskip("ray", reason="the [ray] extra is not installed")

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def loopback_ray_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # Nodes bind to 127.0.0.1 and need no token there; workers import the tests' transforms from the repository.
    monkeypatch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))


@pytest.fixture
def local_ray(loopback_ray_env: None) -> Iterator[None]:
    # address="local": a new runtime even if a cluster started by `ray start` runs on this machine.
    ray.init(address="local", num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


def test_local_ray_runtime(local_ray: None, tmp_path: Path) -> None:
    reference = tf.make_output(str(tmp_path / "serial"))
    tf.fan_out().eval(range(30), reference, progressbar=False)
    ds = tf.make_output(str(tmp_path / "ray"))
    tf.fan_out().eval(range(30), ds, num_workers=2, scheduler="ray", progressbar=False)
    assert stored(ds) == stored(reference)
    check_fan_out(hub.load(str(tmp_path / "ray"), read_only=True), range(30))

    before, chunks = stored(ds), set(ds.storage.list("chunks/"))
    with pytest.raises(TransformError, match="input 10") as info:  # the position in data_in
        tf.fan_out(fail_at=40).eval(range(30, 50), ds, num_workers=2, scheduler="ray", progressbar=False)
    assert info.value.index == 10 and isinstance(info.value.original, ValueError)
    assert "bad input 40" in str(info.value) and "Traceback in the worker" in str(info.value)
    assert stored(ds) == before
    assert set(ds.storage.list("chunks/")) == chunks

    view = ds.filter(tf.is_even_label, num_workers=2, scheduler="ray", progressbar=False)
    labels = ds.labels.numpy().ravel()
    assert view.index is not None
    assert view.index.array().tolist() == [i for i, label in enumerate(labels) if label % 2 == 0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ray_node(*args: str) -> subprocess.Popen[bytes]:
    """One ``ray start --block`` node; terminating the process stops the node's processes."""
    ray_bin = str(Path(sys.executable).parent / "ray")
    common = ["--block", "--node-ip-address=127.0.0.1", "--num-cpus=1", "--disable-usage-stats"]
    return subprocess.Popen([ray_bin, "start", *args, *common], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture
def two_node_cluster(loopback_ray_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    # With 0, this Ray refuses a second node ("multi-node clusters are not supported"); the nodes still bind
    # to 127.0.0.1 only, through --node-ip-address.
    monkeypatch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "1")
    port = _free_port()
    address = f"127.0.0.1:{port}"
    head = _ray_node("--head", f"--port={port}", "--include-dashboard=false")
    nodes = [head]
    try:
        ray.init(address=address, _node_ip_address="127.0.0.1", log_to_driver=False)  # waits for the head
        nodes.append(_ray_node(f"--address={address}"))
        deadline = time.monotonic() + 120
        while len([n for n in ray.nodes() if n["Alive"]]) < 2:
            assert time.monotonic() < deadline, "the second Ray node did not join"
            time.sleep(0.5)
        yield address
    finally:
        ray.shutdown()
        for node in reversed(nodes):
            node.terminate()
            node.wait(timeout=120)


def test_two_node_cluster(two_node_cluster: str, tmp_path: Path) -> None:
    alive = {n["NodeID"] for n in ray.nodes() if n["Alive"]}
    assert len(alive) == 2
    ds = tf.make_output(str(tmp_path / "ds"))
    # One CPU per node and tasks that take a while: both nodes get some.
    tf.where(seconds=0.5).eval(range(16), ds, num_workers=4, scheduler="ray", progressbar=False)
    assert ds.labels.numpy().ravel().tolist() == list(range(16))
    assert set(ds.names.text()) == alive


def test_ray_progress_counts_inputs_within_a_task(
    local_ray: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.core.transform.test_eval_options import record_progress

    counts = record_progress(monkeypatch, tmp_path / "flag")
    ds = tf.make_output(str(tmp_path / "ds"))
    # Four tasks of 10 inputs; input 3 of each waits until the bar has counted some inputs, which it can only do
    # while tasks run.
    tf.wait_for_flag(at=3, flag=str(tmp_path / "flag")).eval(
        range(40), ds, num_workers=1, scheduler="ray", progressbar=True
    )
    assert 0 < counts[0] < 10
    assert counts[-1] == 40
    check_fan_out(ds, range(40))
