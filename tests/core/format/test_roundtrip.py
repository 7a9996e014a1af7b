"""Property tests: whatever is written is read back bit for bit, through every kind of view."""

from __future__ import annotations

import uuid

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import hub

DTYPES = ["uint8", "int16", "int32", "int64", "uint32", "float32", "float64", "bool"]
COMPRESSION = st.sampled_from([None, "lz4-chunk", "lz4-sample"])


def _tensor(dtype: str, compression: str | None, max_chunk_size: int) -> hub.Dataset:
    ds = hub.empty(f"mem://{uuid.uuid4().hex}")
    ds.create_tensor(
        "x",
        dtype=dtype,
        chunk_compression="lz4" if compression == "lz4-chunk" else None,
        sample_compression="lz4" if compression == "lz4-sample" else None,
        max_chunk_size=max_chunk_size,
    )
    return ds


@st.composite
def samples(draw: st.DrawFn) -> tuple[str, list[np.ndarray]]:
    dtype = draw(st.sampled_from(DTYPES))
    ndim = draw(st.integers(0, 3))
    fixed = draw(st.booleans())
    shape_st = hnp.array_shapes(min_dims=ndim, max_dims=ndim, min_side=0, max_side=6)
    shape = draw(shape_st)
    n = draw(st.integers(1, 25))
    arrays = [
        draw(
            hnp.arrays(
                dtype,
                shape if fixed else draw(shape_st),
                elements=None if dtype != "float64" else st.floats(allow_nan=True, allow_infinity=True),
            )
        )
        for _ in range(n)
    ]
    return dtype, arrays


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=samples(),
    compression=COMPRESSION,
    chunk=st.sampled_from([1024, 4096, 2**20]),
    reload=st.booleans(),
    batched=st.booleans(),
)
def test_append_then_read_back(
    data: tuple[str, list[np.ndarray]], compression: str | None, chunk: int, reload: bool, batched: bool
) -> None:
    dtype, arrays = data
    ds = _tensor(dtype, compression, chunk)
    if batched and len({a.shape for a in arrays}) == 1:
        ds.x.extend(np.stack(arrays))
    else:
        with ds:
            for a in arrays:
                ds.x.append(a)
    if reload:
        ds = hub.load(ds.path)
    got = ds.x.numpy(aslist=True)
    assert len(got) == len(arrays)
    for g, a in zip(got, arrays, strict=True):
        assert g.dtype == a.dtype
        assert g.shape == a.shape
        assert g.tobytes() == a.tobytes()
    for i in range(len(arrays)):
        assert ds.x[i].numpy().tobytes() == arrays[i].tobytes()


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 60),
    picks=st.lists(st.one_of(st.integers(-80, 80), st.slices(80)), min_size=1, max_size=3),
)
def test_views_of_views_match_numpy(n: int, picks: list[int | slice]) -> None:
    ds = _tensor("int32", None, 1024)
    ref = np.arange(n * 3, dtype="int32").reshape(n, 3)
    ds.x.extend(ref)
    view, expect = ds, ref
    for p in picks:
        if isinstance(p, int):
            if not -len(expect) <= p < len(expect):
                return
            np.testing.assert_array_equal(view[p].x.numpy(), expect[p])
            return
        view, expect = view[p], expect[p]
        assert len(view) == len(expect)
    np.testing.assert_array_equal(view.x.numpy(), expect)
    idx = list(range(len(expect)))[::-2]
    np.testing.assert_array_equal(view[idx].x.numpy(), expect[idx])


@settings(max_examples=30, deadline=None)
@given(
    ops=st.lists(
        st.tuples(st.sampled_from(["append", "update", "pop"]), st.integers(0, 10**6), st.integers(0, 5)),
        min_size=1,
        max_size=40,
    ),
    reload_every=st.integers(1, 10),
)
def test_updates_and_pops_match_a_list(ops: list[tuple[str, int, int]], reload_every: int) -> None:
    ds = _tensor("int64", None, 1024)
    model: list[np.ndarray] = []
    for step, (op, where, size) in enumerate(ops):
        value = np.full(size, step, dtype="int64")
        if op == "append" or not model:
            ds.x.append(value)
            model.append(value)
        elif op == "update":
            i = where % len(model)
            ds.x[i] = value
            model[i] = value
        else:
            i = where % len(model)
            ds.pop(i)
            model.pop(i)
        if step % reload_every == 0:
            ds = hub.load(ds.path)
    got = ds.x.numpy(aslist=True)
    assert [g.tolist() for g in got] == [m.tolist() for m in model]
