"""Sequences: each sample a variable-length list of items (frames of a clip, views of a scene)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

import hub
from hub.errors import DatasetIndexError, DynamicShapeError, SampleShapeError
from tests.core.media._make import mem_url


def _views(n: int, seed: int, h: int = 12, w: int = 16) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(n)]


def test_sequences_of_images(tmp_path: Path) -> None:
    ds = hub.empty(tmp_path / "ds")
    ds.create_tensor("scenes", htype="sequence[image]", sample_compression="png")
    scenes = [_views(3, 0), _views(1, 1), _views(5, 2)]
    ds.scenes.extend(scenes)
    ds = hub.load(tmp_path / "ds", read_only=True)
    assert len(ds.scenes) == 3
    assert ds.scenes.shape == (3, None, 12, 16, 3)
    assert [tuple(s) for s in ds.scenes.shapes()] == [(3, 12, 16, 3), (1, 12, 16, 3), (5, 12, 16, 3)]
    for i, scene in enumerate(scenes):
        np.testing.assert_array_equal(ds.scenes[i].numpy(), np.stack(scene))
        for j, view in enumerate(scene):
            np.testing.assert_array_equal(ds.scenes[i][j].numpy(), view)
    np.testing.assert_array_equal(ds.scenes[2][1:4].numpy(), np.stack(scenes[2][1:4]))
    np.testing.assert_array_equal(ds.scenes[2][3, 2:5, :, 0].numpy(), scenes[2][3][2:5, :, 0])
    as_list = ds.scenes.numpy(aslist=True)
    assert [len(s) for s in as_list] == [3, 1, 5] and all(isinstance(s, list) for s in as_list)
    np.testing.assert_array_equal(as_list[2][4], scenes[2][4])
    assert isinstance(ds.scenes[0].numpy(aslist=True), list) and len(ds.scenes[2][1:3].numpy(aslist=True)) == 2
    with pytest.raises(DynamicShapeError, match="aslist"):
        ds.scenes.numpy()
    with pytest.raises(DatasetIndexError, match="out of range"):
        ds.scenes[1][1].numpy()
    # Each item keeps its own file: tobytes of an item is a PNG holding exactly that view.
    item = ds.scenes[0][2].tobytes()
    assert item.startswith(b"\x89PNG")
    np.testing.assert_array_equal(hub.compression.get_codec("png").decode(item), scenes[0][2])
    assert ds.scenes[0][2].sample_info["format"] == "png"
    assert len(ds.scenes[0].sample_info) == 3


def test_files_in_sequences_are_stored_verbatim(tmp_path: Path) -> None:
    paths = []
    for k, view in enumerate(_views(4, 5, 10, 10)):
        paths.append(tmp_path / f"v{k}.jpg")
        Image.fromarray(view).save(paths[-1], quality=95)
    ds = hub.empty(mem_url())
    ds.create_tensor("clips", htype="sequence[image]", sample_compression="jpeg")
    ds.clips.append([hub.read(p) for p in paths])
    for k, path in enumerate(paths):
        assert ds.clips[0][k].tobytes() == path.read_bytes()


def test_ragged_items_come_back_as_a_list() -> None:
    ds = hub.empty(mem_url())
    ds.create_tensor("scenes", htype="sequence[image]", sample_compression="png")
    views = [*_views(1, 3, 8, 8), *_views(1, 4, 10, 6)]
    ds.scenes.append(views)
    assert tuple(ds.scenes[0].shape) == (2, 10, 8, 3)  # the sequence's length, then the largest item
    assert ds.scenes[0][1].shape == (10, 6, 3) and ds.scenes[0][0, 2:5].shape == (3, 8, 3)
    assert len(ds.scenes[0]) == 2 and [item.shape for item in ds.scenes[0]] == [(8, 8, 3), (10, 6, 3)]
    value = ds.scenes[0].numpy()
    assert isinstance(value, list)
    for got, want in zip(value, views, strict=True):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(SampleShapeError):
        ds.scenes.append([np.zeros((4, 4), np.uint8)])  # image.rgb items have 3 dimensions here


def test_sequences_update_and_pop_with_version_control(tmp_path: Path) -> None:
    ds = hub.empty(tmp_path / "ds")
    ds.create_tensor("seq", htype="sequence[generic]", dtype="int32")
    ds.seq.extend([[np.arange(3), np.arange(4)], [np.arange(2)], [np.arange(5)] * 3])
    first = ds.commit("three sequences")
    ds.seq[1] = [np.full(7, 9), np.zeros(1, np.int32)]
    ds.pop(0)
    assert len(ds.seq) == 2
    assert [list(x) for x in ds.seq[0].numpy()] == [[9] * 7, [0]]
    ds.checkout(first)
    assert [list(x) for x in ds.seq[1].numpy()] == [[0, 1]]


ITEMS = st.lists(hnp.arrays(np.int16, st.tuples(st.integers(0, 6), st.integers(1, 4))), min_size=0, max_size=6)


@settings(max_examples=40, deadline=None)
@given(sequences=st.lists(ITEMS.filter(bool), min_size=1, max_size=5))
def test_what_you_write_you_read_back(sequences: list[list[np.ndarray]]) -> None:
    ds = hub.empty(mem_url())
    ds.create_tensor("seq", htype="sequence[generic]", dtype="int16")
    ds.seq.extend(sequences)
    for i, items in enumerate(sequences):
        value = ds.seq[i].numpy()
        got = list(value) if isinstance(value, np.ndarray) else value
        assert len(got) == len(items)
        for j, want in enumerate(items):
            np.testing.assert_array_equal(got[j], want)
            np.testing.assert_array_equal(ds.seq[i][j].numpy(), want)
            assert ds.seq[i][j].tobytes() == want.tobytes()
