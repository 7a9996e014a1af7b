"""The loaders' reading API: epoch plans split across shards, prefetching streams, batch decoding, bad samples."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hub
from hub.core.chunk import ChunkBuilder, parse_header
from hub.core.reading import DatasetReader, RecyclingAllocator, Shard, epoch_schedule
from hub.errors import CorruptChunkError, DatasetNotShareableError, SampleDecodeError
from hub.testing.damage import corrupt_sample


def _photo(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 / w, y * 255 / h, (x + y) * 127 / (w + h)], axis=-1)
    return np.clip(base + rng.normal(0, 3, base.shape), 0, 255).astype(np.uint8)


def _numbers(path: str, n: int = 600) -> hub.Dataset:
    """Raw int32 samples whose values encode their index, labels, text; small chunks so there are many."""
    ds = hub.empty(path, overwrite=True)
    with ds:
        ds.create_tensor("x", max_chunk_size=4096)
        ds.create_tensor("labels", htype="class_label")
        ds.create_tensor("names", htype="text")
        ds.x.extend(np.arange(n * 12, dtype=np.int32).reshape(n, 3, 4))
        ds.labels.extend(np.arange(n, dtype=np.uint32) % 7)
        ds.names.extend([f"s{i}" for i in range(n)])
    return ds


@pytest.fixture(scope="module")
def numbers(tmp_path_factory: pytest.TempPathFactory) -> hub.Dataset:
    return _numbers(str(tmp_path_factory.mktemp("reading") / "numbers"))


def _stream(reader: DatasetReader, shards: list[Shard], **kwargs: object) -> list[int]:
    seen: list[int] = []
    for shard in shards:
        for batch in reader.batches(shard, return_index=True, **kwargs):  # type: ignore[arg-type]
            index = batch["index"]
            assert (batch["x"][:, 0, 0] == index * 12).all()
            assert (batch["labels"][:, 0] == index % 7).all()
            assert batch["names"] == [f"s{i}" for i in index]
            seen.extend(index.tolist())
    return seen


@settings(max_examples=25, deadline=None)
@given(
    world=st.integers(1, 3),
    workers=st.integers(1, 3),
    batch=st.integers(1, 70),
    shuffle=st.booleans(),
    drop_last=st.booleans(),
    start=st.integers(0, 50),
    step=st.integers(1, 3),
    turn=st.integers(1, 4),
)
def test_shards_cover_the_view_exactly_once(
    numbers: hub.Dataset,
    world: int,
    workers: int,
    batch: int,
    shuffle: bool,
    drop_last: bool,
    start: int,
    step: int,
    turn: int,
) -> None:
    view = numbers[start::step]
    reader = DatasetReader(view)
    expected = view.labels.numpy().shape[0]
    per_rank = []
    everything: list[int] = []
    for rank in range(world):
        shards = [Shard(rank, world, w, workers) for w in range(workers)]
        seen = _stream(reader, shards, batch_size=batch, shuffle=shuffle, seed=3, drop_last=drop_last, turn=turn)
        per_rank.append(len(seen))
        everything.extend(seen)
    assert len(everything) == len(set(everything))
    assert set(everything) <= set(range(start, 600, step))
    if drop_last:
        assert len(set(per_rank)) == 1
        assert expected - len(everything) < world * batch
    else:
        assert sorted(everything) == list(range(start, 600, step))


@pytest.mark.parametrize("turn", [1, 3])
def test_in_order_without_shuffle_when_workers_take_turns(numbers: hub.Dataset, turn: int) -> None:
    reader = DatasetReader(numbers)
    streams = [list(reader.batches(Shard(0, 1, w, 3), batch_size=16, return_index=True, turn=turn)) for w in range(3)]
    turns = [s[i : i + turn] for i in range(0, len(streams[0]), turn) for s in streams]
    assert np.concatenate([b["index"] for t in turns for b in t]).tolist() == list(range(600))


def test_shuffle_is_a_function_of_seed_and_epoch(numbers: hub.Dataset) -> None:
    reader = DatasetReader(numbers)
    run = {
        (seed, epoch): _stream(reader, [Shard()], batch_size=10, shuffle=True, seed=seed, epoch=epoch)
        for seed, epoch in [(1, 0), (1, 1), (2, 0)]
    }
    assert run[(1, 0)] == _stream(reader, [Shard()], batch_size=10, shuffle=True, seed=1, epoch=0)
    assert run[(1, 0)] != run[(1, 1)] != run[(2, 0)]
    order = np.asarray(run[(1, 0)])
    assert abs(np.corrcoef(order, np.arange(len(order)))[0, 1]) < 0.2


def test_skip_resumes_the_same_stream(numbers: hub.Dataset) -> None:
    reader = DatasetReader(numbers)
    kwargs = {"batch_size": 8, "shuffle": True, "seed": 5, "epoch": 2, "buffer_bytes": 3 * 4096}
    full = [b["index"].tolist() for b in reader.batches(return_index=True, **kwargs)]  # type: ignore[arg-type]
    rest = [b["index"].tolist() for b in reader.batches(skip=30, return_index=True, **kwargs)]  # type: ignore[arg-type]
    assert rest == full[30:]


def test_buffer_starts_small_and_grows() -> None:
    sizes = np.full(50, 100)
    batches = epoch_schedule(sizes, 32, np.random.default_rng(0), capacity=2000)
    assert sorted(np.concatenate(batches).tolist()) == list(range(5000))
    assert max(batches[0]) < 100  # the first batch needed only one group
    assert max(np.concatenate(batches[:20])) > 1000  # and the buffer grew while serving


@settings(max_examples=200, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 300), min_size=1, max_size=30),
    batch_size=st.integers(1, 100),
    capacity=st.integers(0, 3000),
    seed=st.integers(0, 2**32 - 1),
)
def test_shuffled_schedule_serves_every_sample_once_in_sorted_batches(
    sizes: list[int], batch_size: int, capacity: int, seed: int
) -> None:
    batches = epoch_schedule(np.asarray(sizes), batch_size, np.random.default_rng(seed), capacity)
    total = sum(sizes)
    assert sorted(np.concatenate(batches).tolist()) == list(range(total))
    assert [len(b) for b in batches[:-1]] == [batch_size] * (len(batches) - 1) and 0 < len(batches[-1]) <= batch_size
    assert all((np.diff(b) > 0).all() for b in batches)
    again = epoch_schedule(np.asarray(sizes), batch_size, np.random.default_rng(seed), capacity)
    assert all((a == b).all() for a, b in zip(batches, again, strict=True))  # a function of the seed


def test_a_batch_is_a_uniform_draw_of_what_the_buffer_holds() -> None:
    # Two groups of 100, batches of 50: the first batch draws from group 0 alone; then group 1 enters, and the
    # second batch draws 50 of the 150 held, two thirds of them from group 1 on average.
    from_second = [
        float((epoch_schedule(np.array([100, 100]), 50, np.random.default_rng(seed), 200)[1] >= 100).mean())
        for seed in range(2000)
    ]
    assert abs(np.mean(from_second) - 2 / 3) < 0.01
    first = np.concatenate(
        [epoch_schedule(np.array([100, 100]), 50, np.random.default_rng(s), 200)[0] for s in range(2000)]
    )
    counts = np.bincount(first, minlength=100)
    assert counts.max() < 2000 * 0.5 * 1.15 and counts.min() > 2000 * 0.5 * 0.85  # each sample of group 0 alike


def test_pickles_without_data_and_refuses_memory_datasets(numbers: hub.Dataset) -> None:
    reader = DatasetReader(numbers[5:50], ["labels", "x"])
    data = pickle.dumps(reader)
    assert len(data) < 2000
    copy = pickle.loads(data)
    batch = next(copy.batches(batch_size=45))
    assert list(batch) == ["labels", "x"]
    assert batch["x"][:, 0, 0].tolist() == [12 * i for i in range(5, 50)]
    mem = _numbers("mem://reading-test", 10)
    with pytest.raises(DatasetNotShareableError, match="num_workers=0"):
        pickle.dumps(DatasetReader(mem))


def test_jpeg_batches_tobytes_and_variable_shapes(tmp_path: Path) -> None:
    ds = hub.empty(str(tmp_path / "img"))
    images = [_photo(32, 40, i) for i in range(6)] + [_photo(20, 24, 9)]
    with ds:
        ds.create_tensor("images", htype="image", sample_compression="jpeg", max_chunk_size=8192)
        ds.images.extend(images)
    reader = DatasetReader(ds)
    batch = next(reader.batches(batch_size=6))["images"]
    assert batch.shape == (6, 32, 40, 3) and batch.dtype == np.uint8
    assert np.array_equal(batch[2], ds.images[2].numpy())
    mixed = next(reader.batches(batch_size=7))["images"]
    assert [m.shape for m in mixed][-2:] == [(32, 40, 3), (20, 24, 3)]
    raw = next(DatasetReader(ds, tobytes=True).batches(batch_size=7))["images"]
    assert raw == [ds.images[i].tobytes() for i in range(7)]


def test_corrupt_sample_names_tensor_and_index_or_is_skipped(tmp_path: Path) -> None:
    ds = hub.empty(str(tmp_path / "bad"))
    with ds:
        ds.create_tensor("images", htype="image", sample_compression="jpeg")
        ds.create_tensor("labels", htype="class_label")
        ds.images.extend([_photo(16, 16, i) for i in range(5)])
        ds.labels.extend(np.arange(5, dtype=np.uint32))
    corrupt_sample(ds, "images", 3)
    reader = DatasetReader(hub.load(str(tmp_path / "bad"), read_only=True))
    with pytest.raises(SampleDecodeError, match="Sample 3 of tensor 'images'") as info:
        list(reader.batches(batch_size=5))
    assert (info.value.tensor, info.value.index) == ("images", 3)
    batches = list(reader.batches(batch_size=5, errors="skip", return_index=True))
    assert batches[0]["index"].tolist() == [0, 1, 2, 4] and batches[0]["labels"][:, 0].tolist() == [0, 1, 2, 4]
    seen: list[int] = []
    list(reader.batches(batch_size=2, errors=lambda e: seen.append(e.index)))  # type: ignore[arg-type, func-returns-value]
    assert seen == [3]


def test_has_tiles_tells_tensors_whose_samples_have_no_stored_file(tmp_path: Path) -> None:
    ds = hub.empty(str(tmp_path / "tiles"))
    with ds:
        ds.create_tensor("big", dtype="float32", max_chunk_size=4096)
        ds.create_tensor("small", dtype="float32")
        ds.append({"big": np.zeros((8, 8), np.float32), "small": np.zeros(2, np.float32)})
    reader = DatasetReader(ds)
    assert not reader.has_tiles("big") and not reader.has_tiles("small")
    ds.append({"big": np.ones((40, 40), np.float32), "small": np.ones(2, np.float32)})  # 6.4 KB: tiled
    reader = DatasetReader(ds)
    assert reader.has_tiles("big") and not reader.has_tiles("small")
    assert np.array_equal(next(reader.batches(batch_size=2))["big"][1], np.ones((40, 40), np.float32))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.integers(1, 4)), min_size=1, max_size=12))
def test_byte_spans_equal_byte_span_of_each_sample(runs: list[tuple[int, int]]) -> None:
    builder = ChunkBuilder(1)
    for size, count in runs:  # runs of equal-size samples, as batch appends make them
        builder.add(bytes(size * count), (size,), count)
    header = parse_header(builder.tobytes())
    samples = np.arange(header.num_samples)[::-1]
    starts, ends = header.byte_spans(samples)
    assert list(zip(starts.tolist(), ends.tolist(), strict=True)) == [header.byte_span(int(i)) for i in samples]


def test_links_and_sequences_decode_per_sample(tmp_path: Path) -> None:
    from PIL import Image

    images = [_photo(10, 10, i) for i in range(3)]
    for i, image in enumerate(images):
        Image.fromarray(image).save(tmp_path / f"{i}.png")
    ds = hub.empty(str(tmp_path / "ds"))
    with ds:
        ds.create_tensor("links", htype="link[image]")
        ds.create_tensor("scenes", htype="sequence[image]", sample_compression="png")
        ds.links.extend([hub.link(str(tmp_path / f"{i}.png")) for i in range(3)])
        ds.scenes.extend([images[: i + 1] for i in range(3)])
    batch = next(DatasetReader(ds).batches(batch_size=3))
    assert np.array_equal(batch["links"], np.stack(images))  # the linked files' pixels, not the link records
    assert [np.asarray(s).shape[0] for s in batch["scenes"]] == [1, 2, 3]


def test_recycled_batch_memory_is_reused_only_when_nothing_refers_to_it() -> None:
    alloc = RecyclingAllocator(limit=2)
    first = alloc((4, 3), np.dtype("int32"))
    first[...] = 1
    assert first.ctypes.data % RecyclingAllocator.ALIGN == 0
    kept = first[1:]  # a view keeps the memory in use
    del first
    second = alloc((4, 3), np.dtype("int32"))
    second[...] = 2
    assert (kept == 1).all()
    address = second.ctypes.data
    del second
    third = alloc((2, 3), np.dtype("int32"))  # smaller: fits the freed buffer
    assert third.ctypes.data == address
    del kept, third
    assert alloc((100,), np.dtype("float64")).shape == (100,)  # larger than any buffer: a new one


def test_shuffled_batches_can_be_handed_over_mixed(numbers: hub.Dataset) -> None:
    reader = DatasetReader(numbers, ["labels"])
    plain = list(reader.batches(Shard(), batch_size=50, shuffle=True, seed=4, return_index=True))
    mixed = list(reader.batches(Shard(), batch_size=50, shuffle=True, seed=4, return_index=True, mix=True))
    for a, b in zip(plain, mixed, strict=True):
        assert sorted(a["index"].tolist()) == sorted(b["index"].tolist())  # the same samples in each batch
        assert a["index"].tolist() == sorted(a["index"].tolist())
        np.testing.assert_array_equal(b["labels"].ravel(), b["index"] % 7)
    assert any(b["index"].tolist() != sorted(b["index"].tolist()) for b in mixed)


def test_a_pickled_reader_reads_the_metadata_its_sender_saw(tmp_path: Path) -> None:
    """Workers get the sender's tensor metadata and chunk indexes: no storage round trips, and the samples the
    sender planned with, even when the branch has moved on (as a forked worker, which inherits them)."""
    ds = _numbers(str(tmp_path / "moving"), 200)
    reader = DatasetReader(ds, ["x", "labels"])
    chunks = {g.chunks["x"] for g in reader.plan(Shard(), batch_size=10)}  # the plans are made: they go along
    assert len(chunks) > 1
    data = pickle.dumps(reader)
    ds.commit("first 200")  # committed chunks stay; what follows goes to new ones
    with ds:
        ds.x.extend(np.full((10, 3, 4), -1, dtype=np.int32))
        ds.labels.extend(np.zeros(10, dtype=np.uint32))
        ds.names.extend(["late"] * 10)
    assert len(DatasetReader(ds, ["x"])) == 210
    copy = pickle.loads(data)
    assert len(copy) == 200
    assert copy.meta("x").length == 200
    batch = next(copy.batches(batch_size=200))
    assert batch["x"][:, 0, 0].tolist() == [12 * i for i in range(200)]
    assert batch["labels"].ravel().tolist() == [i % 7 for i in range(200)]


@pytest.mark.parametrize("mix", [False, True])
def test_a_chunk_shorter_than_its_index_says_is_corrupt(tmp_path: Path, mix: bool) -> None:
    """A raw tensor's chunk that holds fewer samples than the chunk index places in it (a valid chunk, so only
    the index tells) raises CorruptChunkError when a batch is gathered from it, in storage order or mixed."""
    _numbers(str(tmp_path / "ds"), n=200)
    # The tensor x's chunks are those of 48-byte samples; cut one of them to half its samples.
    victim = None
    for path in sorted((tmp_path / "ds" / "chunks").rglob("*")):
        if path.is_file():
            header = parse_header(path.read_bytes())
            if header.num_samples > 2 and header.byte_span(0)[1] - header.byte_span(0)[0] == 48:
                victim = path
    assert victim is not None
    header = parse_header(victim.read_bytes())
    body = memoryview(victim.read_bytes())[header.header_nbytes :]
    keep = header.num_samples // 2
    short = ChunkBuilder(2)
    short.add(bytes(body[: keep * 48]), (3, 4), keep)
    victim.write_bytes(short.tobytes())
    ds = hub.load(str(tmp_path / "ds"), read_only=True)
    reader = DatasetReader(ds, ["x"])
    with pytest.raises(CorruptChunkError, match="holds"):
        for _ in reader.batches(Shard(), batch_size=64, shuffle=True, seed=1, mix=mix):
            pass
    with pytest.raises(CorruptChunkError, match="holds"):  # random access names it too
        ds.x.numpy()
