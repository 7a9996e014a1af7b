"""``ds.filter``: the same view on every scheduler, in order; a saved result is a dataset of its own."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import hub
from hub.errors import TransformError, TransformPickleError
from tests.core.transform import transforms as tf


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> hub.Dataset:
    ds = tf.make_output(str(tmp_path_factory.mktemp("filter") / "source"))
    tf.fan_out().eval(range(30), ds, progressbar=False)
    return ds


def even_positions(ds: hub.Dataset) -> list[int]:
    return [i for i, label in enumerate(ds.labels.numpy().ravel()) if label % 2 == 0]


@pytest.mark.parametrize(("scheduler", "workers"), [("serial", 0), ("threaded", 3), ("processed", 2)])
def test_filter_on_every_scheduler(source: hub.Dataset, scheduler: str, workers: int) -> None:
    view = source.filter(tf.is_even_label, num_workers=workers, scheduler=scheduler, progressbar=False)
    want = even_positions(source)
    assert view.index is not None and view.index.array().tolist() == want
    assert view.names.text() == [source.names.text()[i] for i in want]


def test_filter_of_a_view_with_a_compute_function(source: hub.Dataset) -> None:
    part = source[5:25]
    allowed = [int(x) for x in part.labels.numpy().ravel()[::3]]
    view = part.filter(tf.label_in(allowed=allowed), num_workers=2, progressbar=False)
    want = [5 + i for i, label in enumerate(part.labels.numpy().ravel()) if label in allowed]
    assert view.index is not None and view.index.array().tolist() == want


def test_save_result(source: hub.Dataset, tmp_path: Path) -> None:
    view = source.filter(tf.is_even_label, save_result=True, result_path=str(tmp_path / "even"), progressbar=False)
    saved = hub.load(str(tmp_path / "even"), read_only=True)
    assert len(saved) == len(view)
    assert saved.names.text() == view.names.text()
    for a, b in zip(saved.images.numpy(aslist=True), view.images.numpy(aslist=True), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(TransformError, match="result_path"):
        source.filter(tf.is_even_label, save_result=True)


def test_filter_errors(source: hub.Dataset) -> None:
    def broken(sample: hub.Dataset) -> bool:
        return int(sample.labels.numpy()[0]) // (len(sample.names.text()) - 3) > 0  # "9-1": divides by zero

    with pytest.raises(TransformError, match="failed on input") as info:
        source.filter(broken, num_workers=2, progressbar=False)
    assert isinstance(info.value.original, ZeroDivisionError)
    with pytest.raises(TransformPickleError):
        source.filter(lambda s: True, num_workers=2, scheduler="processed", progressbar=False)
