"""``@hub.compute`` transforms: every scheduler writes the same dataset; failures leave the output as it was."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hub
from hub.errors import (
    SchedulerError,
    TensorNotFoundError,
    TransformError,
    TransformPickleError,
)
from hub.transform import SkippedSamplesWarning
from tests.core.transform import transforms as tf

N = 40


def stored(ds: hub.Dataset) -> dict[str, list[Any]]:
    """Every sample's stored bytes and shape, per tensor: equal iff the datasets hold the same data in one order."""
    out: dict[str, list[Any]] = {}
    for name, tensor in ds.tensors.items():
        values = []
        for i in range(len(tensor)):
            view = tensor[i]
            try:
                data = view.tobytes()
            except hub.errors.DatasetIndexError:  # tiled: compare the pixels
                data = view.numpy().tobytes()
            values.append((data, tuple(view.shape)))
        out[name] = values
    return out


def expected_samples(inputs: range) -> list[tuple[np.ndarray, int, str]]:
    return [s for i in inputs for s in tf.expected(i)]


def check_fan_out(ds: hub.Dataset, inputs: range) -> None:
    want = expected_samples(inputs)
    assert len(ds) == len(want)
    images = ds.images.numpy(aslist=True)
    for got, (image, _, _) in zip(images, want, strict=True):
        np.testing.assert_array_equal(got, image)
    assert ds.labels.numpy().ravel().tolist() == [label for _, label, _ in want]
    assert ds.names.text() == [name for _, _, name in want]


@pytest.fixture(scope="module")
def serial_reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Any]]:
    ds = tf.make_output(str(tmp_path_factory.mktemp("reference") / "ds"))
    tf.fan_out().eval(range(N), ds, scheduler="serial", progressbar=False)
    check_fan_out(ds, range(N))
    return stored(ds)


@pytest.mark.parametrize(("scheduler", "workers"), [("serial", 0), ("threaded", 3), ("processed", 2)])
def test_every_scheduler_writes_the_same_dataset(
    tmp_path: Path, scheduler: str, workers: int, serial_reference: dict[str, list[Any]]
) -> None:
    ds = tf.make_output(str(tmp_path / "ds"))
    tf.fan_out().eval(list(range(N)), ds, num_workers=workers, scheduler=scheduler, progressbar=False)
    assert stored(ds) == serial_reference
    reopened = hub.load(str(tmp_path / "ds"), read_only=True)
    assert stored(reopened) == serial_reference
    check_fan_out(reopened, range(N))
    # Stable sample ids came along: one per sample, all different.
    ids_keys = [k for k in ds.meta.tensors if k.startswith("_ids_")]
    assert ids_keys
    for key in ids_keys:
        assert ds.meta.tensors[key].length == len(ds)


def test_numpy_input_and_appends_after_eval(tmp_path: Path) -> None:
    ds = tf.make_output(str(tmp_path / "ds"))
    ds.images.append(np.zeros((2, 2, 3), dtype=np.uint8))
    ds.labels.append(7)
    ds.names.append("first")
    tf.fan_out().eval(np.arange(10), ds, num_workers=2, scheduler="threaded", progressbar=False)
    ds.append({"images": np.ones((3, 3, 3), dtype=np.uint8), "labels": 8, "names": "last"})
    want = expected_samples(range(10))
    assert len(ds) == len(want) + 2
    assert ds.names.text() == ["first", *(n for _, _, n in want), "last"]
    np.testing.assert_array_equal(ds.images[-1].numpy(), np.ones((3, 3, 3), dtype=np.uint8))
    assert stored(hub.load(str(tmp_path / "ds"), read_only=True)) == stored(ds)


def test_zero_outputs_and_empty_input() -> None:
    ds = tf.make_output("mem://compute-zero")
    tf.fan_out().eval([0, 3, 6], ds, num_workers=2, progressbar=False)  # i % 3 == 0: no outputs
    tf.fan_out().eval([], ds, num_workers=2, progressbar=False)
    assert len(ds) == 0 and ds.images.meta.length == 0


def test_compose_chains_transforms() -> None:
    ds = tf.make_output("mem://compute-compose")
    hub.compose([tf.fan_out(), tf.double()]).eval(range(12), ds, num_workers=2, progressbar=False)
    first = expected_samples(range(12))
    assert len(ds) == 2 * len(first)
    assert ds.names.text() == [f"{n}+{s}" for _, _, n in first for s in (0, 1)]
    assert ds.labels.numpy().ravel().tolist() == [label + s for _, label, _ in first for s in (0, 1)]
    for got, (image, _, _) in zip(ds.images.numpy(aslist=True)[::2], first, strict=True):
        np.testing.assert_array_equal(got, image)


def test_dataset_input(tmp_path: Path) -> None:
    source = tf.make_output(str(tmp_path / "source"))
    tf.fan_out().eval(range(20), source, progressbar=False)
    for scheduler in ("threaded", "processed"):
        ds = tf.make_output(str(tmp_path / scheduler))
        tf.copy_sample().eval(source[1:], ds, num_workers=2, scheduler=scheduler, progressbar=False)
        assert stored(ds) == {k: v[1:] for k, v in stored(source).items()}


def test_a_failing_input_names_its_index_and_leaves_the_output_as_it_was(tmp_path: Path) -> None:
    for scheduler, workers in [("serial", 0), ("threaded", 2), ("processed", 2)]:
        ds = tf.make_output(str(tmp_path / scheduler))
        tf.fan_out().eval(range(5), ds, progressbar=False)
        before, keys_before = stored(ds), set(ds.storage.list(""))
        with pytest.raises(TransformError, match="input 23") as info:
            tf.fan_out(fail_at=23).eval(range(N), ds, num_workers=workers, scheduler=scheduler, progressbar=False)
        assert info.value.index == 23
        assert isinstance(info.value.original, ValueError)
        assert "bad input 23" in str(info.value.original)
        assert stored(ds) == before
        assert stored(hub.load(str(tmp_path / scheduler), read_only=True)) == before
        # The failed run's chunks are gone again; the lock file is the only other key that may change.
        assert set(ds.storage.list("chunks/")) == {k for k in keys_before if k.startswith("chunks/")}
        tf.fan_out().eval(range(5, 10), ds, num_workers=workers, scheduler=scheduler, progressbar=False)
        check_fan_out(ds, range(10))


def test_ignore_errors_skips_and_counts(tmp_path: Path) -> None:
    ds = tf.make_output(str(tmp_path / "ds"))
    with pytest.warns(SkippedSamplesWarning, match=r"skipped 1 of 40 inputs.*input 8: ValueError: bad input 8"):
        tf.fan_out(fail_at=8).eval(range(N), ds, num_workers=2, ignore_errors=True, progressbar=False)
    want = [s for i in range(N) if i != 8 for s in tf.expected(i)]
    assert ds.names.text() == [n for _, _, n in want]


def test_bad_outputs_are_errors_of_their_input() -> None:
    ds = tf.make_output("mem://compute-bad-outputs")

    with pytest.raises(TransformError, match="input 0") as info:
        tf.word_labels().eval([0, 1], ds, progressbar=False)
    assert isinstance(info.value.original, TensorNotFoundError)
    assert "skip_ok=True" in str(info.value)
    assert len(ds) == 0
    tf.word_labels().eval(range(5), ds, skip_ok=True, progressbar=False)
    assert ds.labels.numpy().ravel().tolist() == [0, 1, 2, 0, 1]
    assert ds.labels.info.class_names == ["cat", "dog", "cow"]


def test_workers_disagreeing_on_new_class_names_is_an_error(tmp_path: Path) -> None:
    ds = tf.make_output(str(tmp_path / "ds"))
    with pytest.raises(TransformError, match="class_names"):
        # Each task starts at another label, so the tasks number the labels differently.
        tf.word_labels().eval([0, 1, 2, 1, 2, 0], ds, num_workers=2, skip_ok=True, progressbar=False)
    assert len(ds.labels) == 0
    assert not ds.storage.list("chunks/")


def test_an_interrupt_leaves_the_output_as_it_was(tmp_path: Path) -> None:
    for scheduler, workers in [("serial", 0), ("threaded", 2)]:
        ds = tf.make_output(str(tmp_path / scheduler))
        tf.fan_out().eval(range(4), ds, progressbar=False)
        before, chunks = stored(ds), set(ds.storage.list("chunks/"))
        with pytest.raises(KeyboardInterrupt):
            tf.interrupt_at(at=30).eval(range(N), ds, num_workers=workers, scheduler=scheduler, progressbar=False)
        assert stored(ds) == before
        assert set(ds.storage.list("chunks/")) == chunks
        assert stored(hub.load(str(tmp_path / scheduler), read_only=True)) == before


KILLED_RUN = """
import sys
from hub.transform import SkippedSamplesWarning
from tests.core.transform import transforms as tf
import hub
ds = hub.load(sys.argv[1])
tf.slow(seconds=0.2, pid_dir=sys.argv[2]).eval(range(40), ds, num_workers=2, scheduler="processed", progressbar=False)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"  # a zombie has exited
    except FileNotFoundError:
        return False


def test_a_killed_run_leaves_the_previous_flushed_state(tmp_path: Path) -> None:
    path = str(tmp_path / "ds")
    ds = tf.make_output(path)
    tf.fan_out().eval(range(6), ds, progressbar=False)
    before = stored(ds)
    ds.close()
    root = Path(__file__).resolve().parents[3]
    pids = tmp_path / "pids"
    pids.mkdir()
    run = subprocess.Popen([sys.executable, "-c", KILLED_RUN, path, str(pids)], cwd=root)
    deadline = time.monotonic() + 120
    while len(list(pids.iterdir())) < 2 and run.poll() is None:  # both workers are writing
        assert time.monotonic() < deadline
        time.sleep(0.1)
    run.kill()
    run.wait()
    assert stored(hub.load(path, read_only=True)) == before
    # The orphaned workers stop too (after deleting what they wrote) instead of waiting forever.
    workers = [int(p.name) for p in pids.iterdir()]
    while any(_alive(pid) for pid in workers):
        assert time.monotonic() < deadline + 60, "worker processes outlived their killed parent"
        time.sleep(0.2)


def test_a_dead_worker_process_is_an_error_and_changes_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "ds")
    ds = tf.make_output(path)
    tf.fan_out().eval(range(6), ds, progressbar=False)
    before = stored(ds)
    with pytest.raises(TransformError, match="worker process died"):
        tf.crash_at(at=25).eval(range(N), ds, num_workers=2, scheduler="processed", progressbar=False)
    assert stored(ds) == before
    assert stored(hub.load(path, read_only=True)) == before
    tf.fan_out().eval([], ds, num_workers=2, scheduler="processed", progressbar=False)
    tf.fan_out().eval(range(6, 9), ds, num_workers=2, scheduler="processed", progressbar=False)
    check_fan_out(ds, range(9))


def test_pickling_problems_are_clear_errors(tmp_path: Path) -> None:
    ds = tf.make_output(str(tmp_path / "ds"))

    @hub.compute
    def local(i: Any, samples_out: Any) -> None:
        samples_out.names.append(str(i))

    with pytest.raises(TransformPickleError, match="top level of a module"):
        local().eval(range(4), ds, num_workers=2, scheduler="processed", progressbar=False)
    with pytest.raises(TransformPickleError, match="data_in"):
        tf.fan_out().eval([lambda: 0], ds, num_workers=2, scheduler="processed", progressbar=False)
    local().eval(range(4), ds, num_workers=2, scheduler="threaded", skip_ok=True, progressbar=False)
    assert ds.names.text() == ["0", "1", "2", "3"]


def test_scheduler_errors() -> None:
    ds = tf.make_output("mem://compute-schedulers")
    with pytest.raises(SchedulerError, match="Unknown scheduler"):
        tf.fan_out().eval(range(3), ds, num_workers=2, scheduler="dask")
    with pytest.raises(SchedulerError, match="memory dataset"):
        tf.fan_out().eval(range(3), ds, num_workers=2, scheduler="processed")
    with pytest.raises(TransformError, match="ds_out"):
        tf.fan_out().eval(range(3))
    with pytest.raises(hub.errors.DatasetIndexError):
        tf.fan_out().eval(range(3), ds[1:])


def test_eval_writes_the_working_version_and_keeps_commits(tmp_path: Path) -> None:
    ds = tf.make_output(str(tmp_path / "ds"))
    tf.fan_out().eval(range(10), ds, num_workers=2, progressbar=False)
    first = ds.commit("ten inputs")
    committed = stored(ds)
    tf.fan_out().eval(range(10, 20), ds, num_workers=2, progressbar=False)
    check_fan_out(ds, range(20))
    ds.checkout(first)
    assert stored(ds) == committed
    ds.checkout("main")
    check_fan_out(ds, range(20))
    changes = ds.diff(as_dict=True)
    assert changes is not None


def test_progress_bar(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ds = tf.make_output("mem://compute-progress")
    tf.fan_out().eval(range(6), ds, num_workers=2, progressbar=True)
    assert "6/6" in capsys.readouterr().err


@pytest.mark.parametrize("scheduler", ["threaded", "processed"])
def test_s3(s3_bucket_url: Any, scheduler: str) -> None:
    url, creds = s3_bucket_url
    ds = tf.make_output(url, creds=creds)
    tf.fan_out().eval(range(15), ds, num_workers=2, scheduler=scheduler, progressbar=False)
    check_fan_out(hub.load(url, read_only=True, creds=creds), range(15))


def test_gcs(gcs_bucket_url: Any) -> None:
    url, creds = gcs_bucket_url
    ds = tf.make_output(url, creds=creds)
    tf.fan_out().eval(range(15), ds, num_workers=2, scheduler="processed", progressbar=False)
    check_fan_out(hub.load(url, read_only=True, creds=creds), range(15))


@hub.compute
def _repeat(item: tuple[int, int], samples_out: Any) -> None:
    # Runs only on in-process schedulers, so it may live in a test module.
    i, n = item
    samples_out["values"].extend([np.arange(n * 40 + i) + k for k in range(n)])


@settings(max_examples=15, deadline=None)
@given(
    lengths=st.lists(st.integers(0, 3), max_size=12),
    workers=st.integers(1, 4),
    scheduler=st.sampled_from(["serial", "threaded"]),
)
def test_what_is_appended_is_read_back_in_input_order(lengths: list[int], workers: int, scheduler: str) -> None:
    ds = hub.empty("mem://compute-property", overwrite=True)
    ds.create_tensor("values", dtype="int64", max_chunk_size=1024)  # some samples are tiled
    want = [np.arange(n * 40 + i) + k for i, n in enumerate(lengths) for k in range(n)]
    _repeat().eval(list(enumerate(lengths)), ds, num_workers=workers, scheduler=scheduler, progressbar=False)
    got = ds["values"].numpy(aslist=True)
    assert [a.tobytes() for a in got] == [b.tobytes() for b in want]


@hub.compute
def _grouped(i: int, samples_out: Any) -> None:
    samples_out.g.x.append(i)
    samples_out["g/y"].append(str(i))


def test_groups_and_a_group_as_output() -> None:
    ds = hub.empty("mem://compute-groups", overwrite=True)
    ds.create_tensor("g/x", dtype="int64")
    ds.create_tensor("g/y", htype="text")
    _grouped().eval(range(5), ds, num_workers=2, progressbar=False)
    assert ds["g/x"].numpy().ravel().tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(TransformError, match="no tensor 'g'") as info:
        _grouped().eval(range(2), ds["g"], progressbar=False)  # names are relative to the group
    assert isinstance(info.value.original, TensorNotFoundError)

    @hub.compute
    def relative(i: int, samples_out: Any) -> None:
        samples_out.append({"x": i, "y": "r"})

    relative().eval([7], ds["g"], num_workers=2, progressbar=False)
    assert ds.g.y.text()[-1] == "r" and int(ds["g/x"].numpy()[-1]) == 7
