"""Hub 2.8.5's ``eval`` options: in place (``ds_out=None``), ``pad_data_in``, ``read_only_ok``, ``cache_size``,
``checkpoint_interval``, and the progress bar counting inputs as they finish."""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import tqdm
from hypothesis import given, settings
from hypothesis import strategies as st

import hub
import hub.transform._eval
from hub.errors import ReadOnlyError, TransformError, TransformOptionError, VersionControlError
from tests.core.transform import transforms as tf
from tests.core.transform.test_eval import check_fan_out, stored

HUB_EVAL = [
    "data_in",
    "ds_out",
    "num_workers",
    "scheduler",
    "progressbar",
    "skip_ok",
    "check_lengths",
    "pad_data_in",
    "read_only_ok",
    "cache_size",
    "checkpoint_interval",
    "ignore_errors",
    "kwargs",
]


def fan_out_dataset(path: str, n: int = 12) -> hub.Dataset:
    ds = tf.make_output(path)
    tf.fan_out().eval(range(n), ds, progressbar=False)
    return ds


def brightened(ds: hub.Dataset) -> list[Any]:
    """What ``tf.brighten`` makes of ``ds``, computed here."""
    return [
        (image + 1, label + 1000, name + "!")
        for image, label, name in zip(
            ds.images.numpy(aslist=True), ds.labels.numpy().ravel().tolist(), ds.names.text(), strict=True
        )
    ]


def check(ds: hub.Dataset, want: list[Any]) -> None:
    assert len(ds) == len(want)
    for got, (image, _, _) in zip(ds.images.numpy(aslist=True), want, strict=True):
        np.testing.assert_array_equal(got, image)
    assert ds.labels.numpy().ravel().tolist() == [label for _, label, _ in want]
    assert ds.names.text() == [name for _, _, name in want]


def test_the_signature_is_hubs_and_unknown_options_are_errors(tmp_path: Path) -> None:
    for method in (hub.transform.ComputeFunction.eval, hub.transform.Pipeline.eval):
        params = list(inspect.signature(method).parameters)[1:]
        assert params == HUB_EVAL
    ds = tf.make_output("mem://options")
    with pytest.raises(TransformOptionError, match=r"unknown keyword arguments \['num_worker'\]"):
        tf.fan_out().eval(range(3), ds, num_worker=2)
    for bad in (0, -1, "16", True):
        with pytest.raises(TransformOptionError, match="cache_size"):
            tf.fan_out().eval(range(3), ds, cache_size=bad)
    with pytest.raises(TransformOptionError, match="checkpoint_interval"):
        tf.fan_out().eval(range(3), ds, checkpoint_interval=-1)
    assert len(ds) == 0
    # Positionally, as Hub 2.x orders them: pad_data_in comes before ignore_errors.
    tf.fan_out().eval(range(6), ds, 2, "threaded", False, False, True, False, False, 4, 0, False)
    hub.compose([tf.fan_out()]).eval(range(6, 9), ds, cache_size=1, progressbar=False)
    check_fan_out(ds, range(9))


@pytest.mark.parametrize(("scheduler", "workers"), [("serial", 0), ("threaded", 2), ("processed", 2)])
def test_in_place_replaces_the_contents(tmp_path: Path, scheduler: str, workers: int) -> None:
    ds = fan_out_dataset(str(tmp_path / "ds"))
    want = brightened(ds)
    tf.brighten().eval(ds, num_workers=workers, scheduler=scheduler, progressbar=False)
    check(ds, want)
    check(hub.load(str(tmp_path / "ds"), read_only=True), want)
    # The tensors' outputs are ordinary samples: appends go after them, and a second pass works on them.
    again = brightened(ds)
    tf.brighten().eval(ds, num_workers=workers, scheduler=scheduler, progressbar=False)
    check(ds, again)


@pytest.mark.parametrize("scheduler", ["threaded", "processed"])
def test_a_failing_in_place_eval_leaves_the_dataset_as_it_was(tmp_path: Path, scheduler: str) -> None:
    ds = fan_out_dataset(str(tmp_path / "ds"))
    before, objects = stored(ds), set(ds.storage.list(""))
    label = int(ds.labels.numpy().ravel()[9])
    with pytest.raises(TransformError, match="input 9"):
        tf.brighten(fail_at=label).eval(ds, num_workers=2, scheduler=scheduler, progressbar=False)
    assert stored(ds) == before
    assert stored(hub.load(str(tmp_path / "ds"), read_only=True)) == before
    assert set(ds.storage.list("")) == objects  # the chunks the workers wrote are deleted again


def test_a_stitch_failing_after_the_clear_restores_every_tensor(tmp_path: Path) -> None:
    ds = hub.empty(str(tmp_path / "ds"))
    ds.create_tensor("labels", htype="class_label")
    ds.labels.extend([0, 1, 2, 1, 2, 0])
    before = stored(ds)
    with pytest.raises(TransformError, match="class_names"):
        # Each task meets another word first, so the tasks number the words differently: the stitch fails.
        tf.word_of_label().eval(ds, num_workers=2, progressbar=False)
    assert stored(ds) == before
    # The chunks the clear let go of are named again: later writes must not delete them.
    ds.labels.append(1)
    ds.flush()
    reopened = hub.load(str(tmp_path / "ds"), read_only=True)
    assert reopened.labels.numpy().ravel().tolist() == [0, 1, 2, 1, 2, 0, 1]


@settings(max_examples=10, deadline=None)
@given(n=st.integers(0, 25), workers=st.integers(0, 3), scheduler=st.sampled_from(["serial", "threaded"]))
def test_an_in_place_copy_reads_back_bit_for_bit(n: int, workers: int, scheduler: str) -> None:
    ds = tf.make_output("mem://in-place-property")
    tf.fan_out().eval(range(n), ds, progressbar=False)
    before = stored(ds)
    tf.copy_sample().eval(ds, num_workers=workers, scheduler=scheduler, progressbar=False)
    assert stored(ds) == before


def test_in_place_is_a_change_on_the_branch_head(tmp_path: Path) -> None:
    ds = fan_out_dataset(str(tmp_path / "ds"))
    old = stored(ds)
    first = ds.commit("before the transform")
    want = brightened(ds)
    tf.brighten().eval(ds, num_workers=2, progressbar=False)
    check(ds, want)
    changes = ds.diff(as_dict=True)
    assert changes is not None
    text = str(changes)
    assert "labels" in text and "images" in text
    second = ds.commit("brightened")
    ds.checkout(first)
    assert stored(ds) == old
    ds.checkout(second)
    check(ds, want)
    ds.checkout("main")
    check(ds, want)
    reopened = hub.load(str(tmp_path / "ds"), read_only=True)
    reopened.checkout(first)
    assert stored(reopened) == old


def test_in_place_needs_a_whole_writable_dataset(tmp_path: Path) -> None:
    ds = fan_out_dataset(str(tmp_path / "ds"))
    with pytest.raises(TransformError, match="in place, but data_in is a range"):
        tf.fan_out().eval(range(3))
    with pytest.raises(TransformOptionError, match="whole dataset, not a view"):
        tf.brighten().eval(ds[2:5])
    with pytest.raises(TransformOptionError, match="needs a ds_out"):
        tf.brighten().eval(ds, checkpoint_interval=4)
    first = ds.commit("one")
    ds.checkout(first)
    with pytest.raises(VersionControlError, match="read_only_ok=True"):
        tf.brighten().eval(ds, progressbar=False)
    ds.checkout("main")
    before = stored(ds)
    with pytest.raises(ReadOnlyError, match="read_only_ok=True"):
        tf.brighten().eval(hub.load(str(tmp_path / "ds"), read_only=True), progressbar=False)
    assert stored(ds) == before


@pytest.mark.parametrize(("scheduler", "workers"), [("serial", 0), ("threaded", 2), ("processed", 2)])
def test_read_only_ok_reads_and_refuses_appends(tmp_path: Path, scheduler: str, workers: int) -> None:
    fan_out_dataset(str(tmp_path / "ds"))
    ds = hub.load(str(tmp_path / "ds"), read_only=True)
    labels = ds.labels.numpy().ravel().tolist()
    objects = set(ds.storage.list(""))
    seen = tmp_path / "seen"
    seen.mkdir()
    tf.touch(str(seen)).eval(ds, num_workers=workers, scheduler=scheduler, read_only_ok=True, progressbar=False)
    assert sorted(int(p) for p in os.listdir(seen)) == sorted(labels)
    with pytest.raises(TransformError, match="read_only_ok=True") as info:
        tf.touch(str(seen), append=True).eval(
            ds, num_workers=workers, scheduler=scheduler, read_only_ok=True, progressbar=False
        )
    assert isinstance(info.value.original, ReadOnlyError)
    assert set(ds.storage.list("")) == objects


def test_read_only_ok_on_a_view_of_a_writable_dataset_only_reads(tmp_path: Path) -> None:
    ds = fan_out_dataset(str(tmp_path / "ds"))
    before = stored(ds)
    seen = tmp_path / "seen"
    seen.mkdir()
    tf.touch(str(seen)).eval(ds[3:6], read_only_ok=True, progressbar=False)
    assert sorted(int(p) for p in os.listdir(seen)) == sorted(ds.labels.numpy().ravel().tolist()[3:6])
    with pytest.raises(TransformError, match="read_only_ok=True"):
        tf.touch(str(seen), append=True).eval(ds[3:6], read_only_ok=True, progressbar=False)
    assert stored(ds) == before


def padded_dataset(path: str) -> hub.Dataset:
    ds = hub.empty(path, overwrite=True)
    ds.create_tensor("a", dtype="int32")
    ds.create_tensor("b", dtype="uint8")
    ds.a.extend(np.arange(10, dtype=np.int32).reshape(5, 2))
    ds.b.extend(np.full((3, 2, 2), 7, dtype=np.uint8))
    return ds


@pytest.mark.parametrize(("scheduler", "workers"), [("serial", 0), ("threaded", 2), ("processed", 2)])
def test_pad_data_in_iterates_to_the_longest_tensor(tmp_path: Path, scheduler: str, workers: int) -> None:
    ds = padded_dataset(str(tmp_path / "in"))
    out = hub.empty(str(tmp_path / "out"))
    out.create_tensor("shapes", dtype="int64")
    out.create_tensor("dtypes", htype="text")
    out.create_tensor("sums", dtype="int64")
    with pytest.raises(TransformOptionError, match=r"different lengths \('a': 5, 'b': 3\).*pad_data_in=True"):
        tf.describe_padded().eval(ds, out, num_workers=workers, scheduler=scheduler, progressbar=False)
    assert len(out) == 0
    tf.describe_padded().eval(ds, out, num_workers=workers, scheduler=scheduler, pad_data_in=True, progressbar=False)
    assert out.shapes.numpy().tolist() == [[2, -1, 2, 2]] * 3 + [[2, -1, 0, 0]] * 2
    assert out.dtypes.text() == ["int32/uint8"] * 5
    assert out.sums.numpy().tolist() == [[2 * i * 2 + 1, 28] for i in range(3)] + [[4 * i + 1, 0] for i in (3, 4)]
    # A view picks the same positions of every tensor, so it needs no padding.
    tf.describe_padded().eval(ds[:3], out, progressbar=False)
    assert len(out) == 8


@pytest.mark.parametrize(("scheduler", "workers", "step"), [("serial", 0, 5), ("processed", 2, 6)])
def test_checkpoints_keep_the_committed_prefix(tmp_path: Path, scheduler: str, workers: int, step: int) -> None:
    # checkpoint_interval=5 is rounded up to a multiple of the 2 workers for processed.
    ds = tf.make_output(str(tmp_path / "ds"))
    with pytest.raises(TransformError, match="input 13"):
        tf.fan_out(fail_at=13).eval(
            range(20), ds, num_workers=workers, scheduler=scheduler, checkpoint_interval=5, progressbar=False
        )
    kept = 13 // step * step
    check_fan_out(ds, range(kept))
    check_fan_out(hub.load(str(tmp_path / "ds"), read_only=True), range(kept))
    messages = [c["message"] for c in ds.commits]
    assert messages == [f"transform checkpoint: {k} of 20 inputs done" for k in range(kept, 0, -step)]
    assert not ds.has_head_changes

    # A run that succeeds commits every checkpoint but the last stretch, which stays a change on the head.
    out = tf.make_output(str(tmp_path / "out"))
    tf.fan_out().eval(
        range(20), out, num_workers=workers, scheduler=scheduler, checkpoint_interval=5, progressbar=False
    )
    check_fan_out(out, range(20))
    assert len(out.commits) == (20 - 1) // step
    assert out.has_head_changes


class Recorder(tqdm.tqdm):  # type: ignore[type-arg]
    """A progress bar that notes its count at every update and, once some inputs are done, creates ``flag``."""

    flag = ""
    counts: ClassVar[list[int]] = []

    def update(self, n: float | None = 1) -> bool | None:
        shown = super().update(n)
        Recorder.counts.append(int(self.n))
        if self.n > 0:
            Path(Recorder.flag).touch()
        return shown


def record_progress(monkeypatch: pytest.MonkeyPatch, flag: Path) -> list[int]:
    monkeypatch.setattr(hub.transform._eval, "tqdm", Recorder)
    monkeypatch.setattr(Recorder, "flag", str(flag))
    monkeypatch.setattr(Recorder, "counts", [])
    return Recorder.counts


def test_processed_progress_counts_inputs_within_a_task(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    counts = record_progress(monkeypatch, tmp_path / "flag")
    ds = tf.make_output(str(tmp_path / "ds"))
    # One worker, four tasks of 10 inputs: input 3 waits until the bar has counted inputs 0-2 of the first task
    # (the bar moving only when a task ends would never let it finish).
    tf.wait_for_flag(at=3, flag=str(tmp_path / "flag")).eval(
        range(40), ds, num_workers=1, scheduler="processed", progressbar=True
    )
    assert counts[0] == 3
    assert counts[-1] == 40
    check_fan_out(ds, range(40))


@pytest.mark.parametrize(("scheduler", "workers"), [("serial", 0), ("threaded", 2), ("processed", 2)])
def test_in_place_with_padding_fills_a_new_tensor(tmp_path: Path, scheduler: str, workers: int) -> None:
    ds = hub.empty(str(tmp_path / "ds"))
    ds.create_tensor("a", dtype="int32")
    ds.create_tensor("sums", dtype="int64")
    ds.a.extend(np.arange(10, dtype=np.int32).reshape(5, 2))
    tf.fill_sums().eval(ds, num_workers=workers, scheduler=scheduler, pad_data_in=True, progressbar=False)
    assert ds.a.numpy().tolist() == np.arange(10).reshape(5, 2).tolist()
    assert ds.sums.numpy().ravel().tolist() == [4 * i + 1 for i in range(5)]


@pytest.mark.parametrize(("scheduler", "workers"), [("serial", 0), ("threaded", 2)])
def test_an_interrupted_in_place_eval_leaves_the_dataset_as_it_was(
    tmp_path: Path, scheduler: str, workers: int
) -> None:
    ds = hub.empty(str(tmp_path / "ds"))
    ds.create_tensor("a", dtype="int32")
    ds.create_tensor("sums", dtype="int64")
    ds.a.extend(np.arange(20, dtype=np.int32).reshape(10, 2))
    ds.sums.extend(np.zeros(10, dtype=np.int64))
    before, objects = stored(ds), set(ds.storage.list(""))
    with pytest.raises(KeyboardInterrupt):
        tf.fill_sums(interrupt_at=12).eval(ds, num_workers=workers, scheduler=scheduler, progressbar=False)
    assert stored(ds) == before
    assert stored(hub.load(str(tmp_path / "ds"), read_only=True)) == before
    assert set(ds.storage.list("")) == objects
