"""Hub 2.x calls on Dataset and Tensor: append_empty, clear_cache, rename_group, size_approx, visualize,
create_tensor_like(unlink=...), rechunk and Tensor.summary."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import hub
from hub.errors import (
    HubError,
    LengthMismatchError,
    ReadOnlyError,
    SampleCompressionError,
    SampleShapeError,
    SchedulerError,
    TensorExistsError,
    TensorMetaError,
    TensorNotFoundError,
    TransformOptionError,
    UnsupportedFeatureError,
    VersionControlError,
)
from hub.storage import LRUCache, storage_from_url


def _stored(t: Any) -> list[bytes]:
    """Every sample's stored bytes, to compare bit for bit."""
    return [t[i].tobytes() for i in range(len(t))]


def _chunks(ds: hub.core.dataset.Dataset, name: str) -> int:
    return len(ds._state.engine(name).index)


# ------------------------------------------------------------------------------------------------ append_empty
def test_append_empty_fills_every_left_out_tensor(path: str) -> None:
    ds = hub.empty(path)
    ds.create_tensor("images", htype="image", sample_compression="png")
    ds.create_tensor("boxes", htype="bbox")
    ds.create_tensor("labels", htype="class_label", class_names=["cat"])
    ds.create_tensor("caption", htype="text")
    ds.create_tensor("attrs", htype="json")
    ds.create_tensor("keywords", htype="list")
    ds.create_tensor("x", dtype="int16")
    ds.create_tensor("poly", htype="polygon")
    ds.create_tensor("seq", htype="sequence[image]", sample_compression="png")
    image = np.zeros((4, 5, 3), dtype="uint8")
    ds.append(
        {
            "images": image,
            "boxes": np.ones((2, 4), "float32"),
            "labels": 0,
            "caption": "a cat",
            "attrs": {"a": 1},
            "keywords": ["t"],
            "x": np.ones((2, 3), "int16"),
            "poly": [np.ones((3, 2))],
            "seq": [image, image],
        }
    )
    ds.append({"images": image}, append_empty=True)
    ds = hub.load(path)
    assert {len(t) for t in ds.tensors.values()} == {2}
    assert ds.boxes[1].numpy().shape == (0, 4)
    assert ds.boxes[1].numpy().dtype == np.float32
    assert ds.labels[1].numpy().shape == (0,)
    assert ds.caption[1].text() == ""
    assert ds.attrs[1].dict() == {}
    assert ds.keywords[1].list() == []
    assert ds.x[1].numpy().shape == (0, 0) and ds.x[1].numpy().dtype == np.int16
    assert ds.poly[1].numpy() == []
    assert len(ds.seq[1]) == 0
    # the samples that were given are untouched
    np.testing.assert_array_equal(ds.boxes[0].numpy(), np.ones((2, 4)))
    assert ds.caption[0].text() == "a cat"


def test_append_empty_on_tensors_without_samples_yet(path: str) -> None:
    ds = hub.empty(path)
    ds.create_tensor("x", dtype="float32")
    ds.create_tensor("boxes", htype="bbox")
    ds.create_tensor("labels", htype="class_label")
    ds.create_tensor("caption", htype="text")
    ds.append({"x": np.ones(3, "float32")}, append_empty=True)  # boxes and labels have one fixed ndim
    assert ds.boxes[0].numpy().shape == (0, 4)
    assert ds.labels[0].numpy().shape == (0,)
    ds.append({"boxes": np.ones((1, 4)), "labels": 3, "caption": "b", "x": np.zeros(2, "float32")})
    np.testing.assert_array_equal(ds.boxes.numpy(aslist=True)[1], np.ones((1, 4)))
    # a generic tensor with no sample yet: how many dimensions an empty sample has is unknown
    other = hub.empty(f"mem://{uuid.uuid4().hex}")
    other.create_tensor("y")
    other.create_tensor("caption", htype="text")
    with pytest.raises(SampleShapeError, match="no samples yet"):
        other.append({"caption": "c"}, append_empty=True)
    assert len(other.y) == 0 and len(other.caption) == 0  # nothing was appended


def test_append_empty_refuses_what_has_no_empty_form(path: str) -> None:
    ds = hub.empty(path)
    ds.create_tensor("images", htype="image", sample_compression="png")
    ds.create_tensor("labels", htype="class_label")
    with pytest.raises(SampleCompressionError, match="skip_ok=True") as e:
        ds.append({"labels": 1}, append_empty=True)
    assert isinstance(e.value, HubError)
    assert len(ds.labels) == 0 and len(ds.images) == 0
    ds.append({"labels": 1}, skip_ok=True)  # still valid and writable
    assert hub.load(path, read_only=True).labels.numpy().tolist() == [[1]]


def test_append_empty_needs_equal_lengths(path: str) -> None:
    ds = hub.empty(path)
    ds.create_tensor("a")
    ds.create_tensor("b", htype="text")
    ds.a.append(np.ones(2))
    with pytest.raises(LengthMismatchError, match="skip_ok=True"):
        ds.append({"a": np.ones(2)}, append_empty=True)
    assert len(ds.a) == 1 and len(ds.b) == 0
    # without append_empty a left-out tensor is still an error
    ds.b.append("x")
    with pytest.raises(TensorNotFoundError, match=r"append_empty|skip_ok"):
        ds.append({"a": np.ones(2)})


def test_append_empty_in_a_group_and_with_skip_ok(path: str) -> None:
    ds = hub.empty(path)
    ds.create_tensor("g/a")
    ds.create_tensor("g/t", htype="text")
    ds.create_tensor("outside", htype="text")
    ds.g.append({"a": np.ones(2)}, skip_ok=True, append_empty=True)  # append_empty wins over skip_ok
    assert ds.g.t[0].text() == ""
    assert len(ds.outside) == 0  # another group's tensors are not touched


# ------------------------------------------------------------------------------------------------ clear_cache
def test_clear_cache_flushes_then_forgets(path: str) -> None:
    ds = hub.empty(path)
    ds.create_tensor("x", max_chunk_size=4096)
    with ds:
        ds.x.extend(np.arange(3000, dtype="int64").reshape(-1, 3))
        ds.clear_cache()  # inside a batch: what is buffered is flushed first, not lost
        engine = ds._state.engine("x")
        assert not engine.index_loaded
        assert engine._chunks.get(0) is None and not engine._headers
        ds.x.append(np.array([7, 8, 9]))
    assert hub.load(path, read_only=True).x.numpy().shape == (1001, 3)
    np.testing.assert_array_equal(ds.x[1000].numpy(), [7, 8, 9])
    np.testing.assert_array_equal(ds.x[:1000].numpy().reshape(-1), np.arange(3000))


def test_clear_cache_empties_a_caching_storage(tmp_path: Path) -> None:
    base = storage_from_url(str(tmp_path / "ds"))
    cache = LRUCache(base)
    ds = hub.core.dataset.Dataset._create(cache)
    ds.create_tensor("x")
    ds.x.extend(np.ones((10, 4)))
    assert cache.used_bytes > 0
    ds.clear_cache()
    assert cache.used_bytes == 0 and not cache.dirty_keys
    np.testing.assert_array_equal(hub.load(str(tmp_path / "ds"), read_only=True).x.numpy(), np.ones((10, 4)))


def test_clear_cache_on_a_read_only_dataset(path: str) -> None:
    ds = hub.empty(path)
    ds.create_tensor("x")
    ds.x.extend(np.ones((5, 2)))
    ds.close()
    ro = hub.load(path, read_only=True)
    ro.x.numpy()
    ro.clear_cache()
    np.testing.assert_array_equal(ro.x.numpy(), np.ones((5, 2)))


# ----------------------------------------------------------------------------------------------- rename_group
def test_rename_group_keeps_data_and_versions(path: str) -> None:
    ds = hub.empty(path)
    ds.create_tensor("a/b/x")
    ds.create_tensor("a/y", htype="text")
    ds.create_tensor("ab", htype="text")  # a name that starts like the group but is not in it
    ds.a.b.x.extend(np.arange(6).reshape(3, 2))
    ds.a.y.extend(["p", "q", "r"])
    ds.ab.append("z")
    first = ds.commit("before")
    ds.rename_group("a", "c")
    assert sorted(ds.tensors) == ["ab", "c/b/x", "c/y"]
    assert "a" not in ds.groups and {"c"} <= set(ds.groups) and "b" in ds.c.groups
    diff = ds.diff(as_dict=True)
    assert diff is not None
    assert diff["a"]["changes"][0]["dataset"]["renamed_tensors"] == {"c/b/x": "a/b/x", "c/y": "a/y"}
    ds.c.b.x.append(np.array([6, 7]))
    second = ds.commit("renamed")
    ds = hub.load(path)
    np.testing.assert_array_equal(ds["c/b/x"].numpy(), np.arange(8).reshape(4, 2))
    assert ds.c.y.text() == ["p", "q", "r"]
    ds.checkout(first)
    assert sorted(ds.tensors) == ["a/b/x", "a/y", "ab"]
    np.testing.assert_array_equal(ds["a/b/x"].numpy(), np.arange(6).reshape(3, 2))
    ds.checkout(second)
    assert sorted(ds.tensors) == ["ab", "c/b/x", "c/y"]


def test_rename_group_inside_a_group_and_to_a_new_parent(path: str) -> None:
    ds = hub.empty(path)
    ds.create_tensor("a/b/x")
    ds.a.b.x.append(np.ones(2))
    ds.a.rename_group("b", "d")
    assert list(ds.tensors) == ["a/d/x"]
    ds.rename_group("a/d", "e/f")
    assert list(ds.tensors) == ["e/f/x"] and "e" in ds.groups
    np.testing.assert_array_equal(hub.load(path, read_only=True).e.f.x[0].numpy(), np.ones(2))


def test_rename_group_errors_leave_the_dataset_as_it_was(path: str) -> None:
    ds = hub.empty(path)
    ds.create_tensor("a/x")
    ds.create_tensor("b/y")
    ds.create_tensor("t")
    with pytest.raises(TensorNotFoundError, match="No group 'nope'"):
        ds.rename_group("nope", "z")
    with pytest.raises(TensorExistsError, match="already exists"):
        ds.rename_group("a", "b")
    with pytest.raises(TensorExistsError):
        ds.rename_group("a", "t")
    with pytest.raises(TensorMetaError, match="into itself"):
        ds.rename_group("a", "a/inner")
    with pytest.raises(TensorMetaError, match="attribute"):
        ds.rename_group("a", "commit")
    assert sorted(hub.load(path, read_only=True).tensors) == ["a/x", "b/y", "t"]
    ds.commit("c")
    ds.checkout(ds.commit_id)
    with pytest.raises(VersionControlError):
        ds.rename_group("a", "z")
    ro = hub.load(path, read_only=True)
    with pytest.raises(ReadOnlyError):
        ro.rename_group("a", "z")


# ------------------------------------------------------------------------------------------------ size_approx
def test_size_approx(path: str) -> None:
    ds = hub.empty(path)
    assert ds.size_approx() == 0
    ds.create_tensor("x", dtype="float64")
    ds.create_tensor("g/y", dtype="uint8")
    ds.x.extend(np.zeros((100, 10)))
    ds.g.y.extend(np.zeros((50, 4), "uint8"))
    ids = 8 * 150  # every sample's stable id: a uint64
    assert ds.size_approx() == 100 * 80 + 50 * 4 + ids
    assert ds.g.size_approx() == 50 * 4 + 50 * 8
    # samples of different shapes: between the smallest and largest
    ds.g.y.append(np.zeros((40,), "uint8"))
    assert 51 * 4 + 51 * 8 <= ds.g.size_approx() <= 51 * 40 + 51 * 8
    # encoded samples: from the chunk count, at most what they'd take raw
    ds.create_tensor("im", htype="image", sample_compression="png")
    ds.im.extend([np.zeros((8, 8, 3), "uint8")] * 3)
    assert 0 < ds["im"]._state.engine("im").size_approx() <= 3 * 8 * 8 * 3
    ds.create_tensor("t", htype="text")
    ds.t.extend(["a", "b"])
    assert ds._state.engine("t").size_approx() == ds.t.meta.max_chunk_size // 2


# -------------------------------------------------------------------------------------------------- visualize
def test_visualize_explains_there_is_no_visualizer(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    def no_network(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("visualize made a network call")

    monkeypatch.setattr(socket, "create_connection", no_network)
    ds = hub.empty(path)
    with pytest.raises(UnsupportedFeatureError, match="numpy") as e:
        ds.visualize(width=800, height="500px")
    assert isinstance(e.value, HubError) and isinstance(e.value, NotImplementedError)


# ------------------------------------------------------------------------------------------ create_tensor_like
def test_create_tensor_like_copies_definition_and_info(path: str) -> None:
    ds = hub.empty(path)
    src = ds.create_tensor(
        "labels", htype="class_label", class_names=["a", "b"], chunk_compression="lz4", max_chunk_size=4096
    )
    src.info.update(note="mine")
    src.append(1)
    out = ds.create_tensor_like("labels2", src)
    assert (out.htype, out.dtype, out.chunk_compression, out.meta.max_chunk_size) == (
        "class_label",
        np.dtype("uint32"),
        "lz4",
        4096,
    )
    assert out.info.class_names == ["a", "b"] and out.info.note == "mine" and len(out) == 0
    assert hub.load(path, read_only=True).labels2.info.note == "mine"


def test_create_tensor_like_unlink(path: str, tmp_path: Path) -> None:
    from PIL import Image

    file = tmp_path / "a.png"
    Image.fromarray(np.full((6, 5, 3), 9, "uint8")).save(file)
    ds = hub.empty(path)
    links = ds.create_tensor("links", htype="link[image]", sample_compression="png")
    links.append(hub.link(str(file)))
    seqs = ds.create_tensor("seqs", htype="sequence[link[image]]", sample_compression="png")
    kept = ds.create_tensor_like("still_links", links)
    assert kept.htype == "link[image]"
    images = ds.create_tensor_like("images", links, unlink=True)
    assert (images.htype, images.sample_compression, images.dtype) == ("image", "png", np.dtype("uint8"))
    assert "verify" not in images.info
    images.append(links[0].numpy())  # it holds the files' contents
    np.testing.assert_array_equal(hub.load(path, read_only=True).images[0].numpy(), np.full((6, 5, 3), 9, "uint8"))
    assert ds.create_tensor_like("frames", seqs, unlink=True).htype == "sequence[image]"
    # the same for a tensor that is not a link
    assert ds.create_tensor_like("images2", images, unlink=True).htype == "image"


def test_create_tensor_like_unlink_needs_a_compression(path: str) -> None:
    ds = hub.empty(path)
    links = ds.create_tensor("links", htype="link[image]")
    with pytest.raises(TensorMetaError, match="sample_compression='jpeg'"):
        ds.create_tensor_like("images", links, unlink=True)
    assert sorted(hub.load(path, read_only=True).tensors) == ["links"]


# ---------------------------------------------------------------------------------------------------- rechunk
def _fragmented(path: str, **kwargs: Any) -> hub.core.dataset.Dataset:
    """200 samples of 96 bytes, 10 to a 1 KiB chunk, committed; then 7 of every 10 popped: chunks of 3."""
    ds = hub.empty(path)
    ds.create_tensor("x", dtype="int64", max_chunk_size=1024, **kwargs)
    ds.create_tensor("t", htype="text", max_chunk_size=1024)
    ds.extend({"x": np.arange(200 * 12, dtype="int64").reshape(200, 12), "t": [f"s{i}" * 20 for i in range(200)]})
    ds.commit("full")
    with ds:
        for i in reversed(range(200)):
            if i % 10 >= 3:
                ds.pop(i)
    return ds


@pytest.mark.parametrize("chunk_compression", [None, "lz4"])
def test_rechunk_repacks_and_reads_back_bit_for_bit(path: str, chunk_compression: str | None) -> None:
    ds = _fragmented(path, chunk_compression=chunk_compression)
    committed = ds.commit_id
    before_x, before_t = _stored(ds.x), ds.t.text()
    before_n = _chunks(ds, "x")
    assert before_n == 20
    ds.rechunk(progressbar=False)
    assert _chunks(ds, "x") == 6  # 60 samples of 96 bytes, 10 to a chunk
    assert _chunks(ds, "t") < 20
    assert ds.has_head_changes
    ds = hub.load(path)
    assert _stored(ds.x) == before_x and ds.t.text() == before_t
    assert _chunks(ds, "x") == 6
    new_commit = ds.commit("rechunked")
    # the earlier commit still reads what it named, through its own chunks
    ds.checkout(committed)
    np.testing.assert_array_equal(ds.x.numpy(), np.arange(200 * 12).reshape(200, 12))
    ds.checkout("main")
    assert ds.commit_id == new_commit
    np.testing.assert_array_equal(ds.x.numpy()[:, 0], [i * 12 for i in range(200) if i % 10 < 3])
    # appending after a rechunk goes on as usual
    ds.x.append(np.full(12, -1, "int64"))
    assert ds.x[-1].numpy().tolist() == [-1] * 12


def test_rechunk_keeps_the_chunks_a_commit_names(path: str) -> None:
    ds = _fragmented(path)
    fragmented = ds.commit("fragmented")  # its small chunks now belong to a commit
    expected = _stored(ds.x)
    ds.close()
    ds = hub.load(path)
    tensor_id, storage = ds.x.meta.id, ds.storage
    ds.rechunk("x", progressbar=False)
    assert _chunks(ds, "x") == 6
    names = set(storage.list(f"chunks/{tensor_id}/"))
    old = hub.load(f"{path}@{fragmented}", read_only=True)
    engine = old._state.engine("x")
    assert len(engine.index) == 20
    for pos in range(len(engine.index)):
        assert f"chunks/{tensor_id}/{engine.index.chunk_id(pos):016x}" in names
    assert _stored(old.x) == expected


def test_rechunk_deletes_this_versions_own_replaced_chunks(path: str) -> None:
    ds = _fragmented(path)  # the pops rewrote every chunk: the rewritten ones belong to no commit
    ds.close()
    ds = hub.load(path)  # a new session: which chunks are this version's own is known from the parent's index
    tensor_id, storage = ds.x.meta.id, ds.storage
    ds.rechunk("x", progressbar=False)
    current = {f"chunks/{tensor_id}/{ds._state.engine('x').index.chunk_id(p):016x}" for p in range(6)}
    ds.checkout(ds.commits[0]["commit"])
    engine = ds._state.engine("x")
    committed = {f"chunks/{tensor_id}/{engine.index.chunk_id(p):016x}" for p in range(len(engine.index))}
    assert set(storage.list(f"chunks/{tensor_id}/")) == current | committed


def test_rechunk_twice_changes_nothing_more(path: str) -> None:
    ds = _fragmented(path)
    ds.rechunk(progressbar=False)
    ds.commit("once")
    index = ds.x.meta.index
    ds.rechunk(progressbar=False)
    assert ds.x.meta.index == index and not ds.has_head_changes
    # a freshly written dataset is left alone too
    fresh = hub.empty(f"mem://{uuid.uuid4().hex}")
    fresh.create_tensor("x", max_chunk_size=1024)
    fresh.x.extend(np.ones((100, 12)))
    fresh.commit("c")
    fresh.rechunk(progressbar=False)
    assert not fresh.has_head_changes


def test_rechunk_encoded_and_tiled_samples(path: str) -> None:
    ds = hub.empty(path)
    ds.create_tensor("im", htype="image", sample_compression="png", max_chunk_size=4096)
    ds.create_tensor("big", dtype="uint8", max_chunk_size=4096)
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (8, 8, 3), dtype="uint8") for _ in range(40)]
    ds.im.extend(images)
    ds.big.extend([rng.integers(0, 255, (100, 100), dtype="uint8")] + [np.zeros((2, 2), "uint8")] * 39)
    for i in range(0, 40, 2):
        ds.im[i] = images[i][::-1].copy()  # copy on write: every updated chunk gets a new id
    with ds:
        for i in reversed(range(5, 35)):
            ds.pop(i)
    before_im, before_big = _stored(ds.im), ds.big.numpy(aslist=True)
    ds.rechunk(["im", "big"], progressbar=False)
    ds = hub.load(path)
    assert _stored(ds.im) == before_im
    for a, b in zip(ds.big.numpy(aslist=True), before_big, strict=True):
        np.testing.assert_array_equal(a, b)
    assert ds.big._state.engine("big").index.entries["flags"][0] == 1  # the tiled sample is kept as it is


def test_rechunk_options_and_errors(path: str) -> None:
    ds = _fragmented(path)
    with pytest.raises(TensorNotFoundError, match="nope"):
        ds.rechunk("nope")
    with pytest.raises(SchedulerError, match="threaded"):
        ds.rechunk(scheduler="dask")
    with pytest.raises(TransformOptionError):
        ds.rechunk(num_workers=-1)
    assert _chunks(ds, "x") == 20
    ds.rechunk(["x"], num_workers=2, scheduler="processed", progressbar=False)
    assert _chunks(ds, "x") == 6
    ro = hub.load(path, read_only=True)
    with pytest.raises(ReadOnlyError):
        ro.rechunk()


class _Killed(BaseException):
    """Stands for the process dying at this instant: nothing after it runs."""


class _DyingWrites:
    """Makes a storage's writes and deletions fail from the ``survive``-th one on, as if the process died there."""

    OPS = ("set", "set_parts", "delete")

    def __init__(self, storage: Any, survive: int) -> None:
        self.storage, self.left = storage, survive
        self.originals = {name: getattr(storage, name) for name in self.OPS}

    def __enter__(self) -> None:
        for name, op in self.originals.items():
            setattr(self.storage, name, self._dying(op))

    def __exit__(self, *exc: object) -> None:
        for name in self.OPS:
            delattr(self.storage, name)

    def _dying(self, op: Any) -> Any:
        def dying(*args: Any, **kwargs: Any) -> Any:
            if self.left == 0:
                raise _Killed
            self.left -= 1
            return op(*args, **kwargs)

        return dying


@pytest.mark.parametrize("chunk_compression", [None, "lz4"])
def test_rechunk_interrupted_at_any_write_leaves_a_valid_dataset(path: str, chunk_compression: str | None) -> None:
    ds = _fragmented(path, chunk_compression=chunk_compression)
    ds.flush()
    expected = _stored(ds.x)
    ds.close()
    step, finished = 0, False
    while not finished:
        ds = hub.load(path)
        with _DyingWrites(ds.storage, step):
            try:
                ds.rechunk("x", progressbar=False)
                finished = True
            except _Killed:
                pass
        reopened = hub.load(path)
        assert _stored(reopened.x) == expected, f"killed at write {step}"
        reopened.x.append(np.zeros(12, "int64"))  # still writable
        reopened.x.pop()
        reopened.close()
        step += 1
    assert step > 3


# ---------------------------------------------------------------------------------------------- Tensor.summary
def test_tensor_summary(path: str, capsys: pytest.CaptureFixture[str]) -> None:
    ds = hub.empty(path)
    ds.create_tensor("images", htype="image", sample_compression="png")
    ds.create_tensor("empty", htype="text")
    ds.images.extend([np.zeros((4, 5, 3), "uint8"), np.zeros((6, 5, 3), "uint8")])
    text = ds.images.summary()
    assert capsys.readouterr().out.strip() == text
    lines = text.splitlines()
    assert lines[0] == "Tensor(key='images')"
    assert lines[1].split() == ["htype", "shape", "dtype", "compression"]
    assert lines[3].split() == ["image", "(2,", "None,", "5,", "3)", "uint8", "png"]
    assert "index=" in ds.images[1:].summary()
    assert ds.empty.summary().splitlines()[3].split() == ["text", "(0,)", "str", "None"]
    # the rows are those of ds.summary()
    assert lines[3] in ds.summary().replace("images  ", "", 1)
