"""Saved views: save_view / get_views / get_view / load_view / delete_view, optimized or not, in the dataset or at a
path, on real storage; concurrent savers and interrupted saves."""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import hub
from hub.core import views
from hub.errors import (
    DatasetViewSavingError,
    EmptyCommitError,
    HubError,
    ReadOnlyError,
    ViewNotFoundError,
)


@pytest.fixture(params=["local", "mem"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "local":
        return str(tmp_path / "ds")
    return f"mem://views-{uuid.uuid4().hex}"


def _make(url: str, creds: Any = None, n: int = 30) -> tuple[hub.Dataset, dict[str, Any]]:
    """A dataset of ``n`` samples in a tensor of random arrays of varying shapes, a text tensor and a grouped one,
    committed; and what each tensor held then."""
    rng = np.random.default_rng(7)
    ds = hub.empty(url, creds=creds)
    arrays = [rng.standard_normal((i % 4 + 1, 3)).astype(np.float32) for i in range(n)]
    texts = [f"sample {i} ✓" for i in range(n)]
    labels = rng.integers(0, 2**31, size=(n, 2), dtype=np.int64)
    with ds:
        ds.create_tensor("x", dtype="float32")
        ds.create_tensor("t", htype="text")
        ds.create_tensor("g/labels", dtype="int64")
        ds.extend({"x": arrays, "t": texts, "g/labels": labels})
    ds.commit("first")
    return ds, {"x": arrays, "t": texts, "labels": labels}


def _check(view: hub.Dataset, data: dict[str, Any], picks: list[int]) -> None:
    """``view`` holds exactly samples ``picks`` of ``data``, bit for bit."""
    assert len(view) == len(picks)
    xs = view.x.numpy(aslist=True)
    assert len(xs) == len(picks)
    for got, i in zip(xs, picks, strict=True):
        want = data["x"][i]
        assert got.dtype == want.dtype and got.shape == want.shape and got.tobytes() == want.tobytes()
    assert [str(np.asarray(s).reshape(-1)[0]) for s in view.t.numpy(aslist=True)] == [data["t"][i] for i in picks]
    labels = view["g/labels"].numpy()
    assert labels.dtype == np.int64 and labels.tobytes() == data["labels"][picks].tobytes()


def _change_everything(ds: hub.Dataset) -> None:
    """Later commits that update, pop and append the samples the views saved."""
    ds.x[1] = np.full((2, 3), -1, dtype=np.float32)
    ds.t[5] = "changed"
    ds.pop(0)
    ds.pop(3)
    ds.commit("second")
    ds.extend({"x": [np.zeros((1, 3), np.float32)], "t": ["new"], "g/labels": [np.zeros(2, np.int64)]})
    ds.commit("third")


@pytest.mark.parametrize("optimize", [False, True])
def test_views_load_back_their_samples_after_later_commits(url: str, optimize: bool) -> None:
    ds, data = _make(url)
    first = ds.commit_id
    picks = [1, 5, 7, 5, 29]
    ids = {
        "list": ds[picks].save_view(message="a list", optimize=optimize, verbose=False),
        "range": ds[2:20:3].save_view(id="every third", optimize=optimize, verbose=False),
        "filter": ds.filter(lambda s: int(s["g/labels"].numpy()[0]) % 2 == 0, progressbar=False).save_view(
            id="even", optimize=optimize, verbose=False
        ),
        "whole": ds.save_view(id="whole", optimize=optimize, verbose=False),
    }
    even = [i for i in range(30) if data["labels"][i][0] % 2 == 0]
    _change_everything(ds)
    assert ds.load_view(ids["list"]).x.numpy(aslist=True)[0].tobytes() == data["x"][1].tobytes()
    for ds2 in (ds, hub.load(url, read_only=True)):
        _check(ds2.load_view(ids["list"]), data, picks)
        _check(ds2.load_view("every third"), data, list(range(2, 20, 3)))
        _check(ds2.load_view("even"), data, even)
        _check(ds2.load_view("whole"), data, list(range(30)))
    entry = ds.get_view(ids["list"])
    assert entry.id == ids["list"] and entry.message == "a list" and entry.commit_id == first
    assert entry.virtual is not optimize
    loaded = entry.load()
    assert loaded.read_only
    with pytest.raises(HubError):
        loaded.x.append(np.zeros((1, 3), np.float32))


def test_scalar_and_group_views(url: str) -> None:
    ds, data = _make(url)
    ds[4].save_view(id="one", verbose=False)
    ds["g"][[3, 2]].save_view(id="group", verbose=False)
    ds["g"][[3, 2]].save_view(id="group-opt", optimize=True, verbose=False)
    _change_everything(ds)
    one = ds.load_view("one")
    assert one.x.numpy().tobytes() == data["x"][4].tobytes()
    for vid in ("group", "group-opt"):
        group = ds.load_view(vid)
        assert list(group.tensors) == ["labels"]
        assert group.labels.numpy().tobytes() == data["labels"][[3, 2]].tobytes()


def test_s3_round_trip(s3_bucket_url: Any) -> None:
    url, creds = s3_bucket_url
    ds, data = _make(url, creds, n=12)
    ds[[0, 11, 3]].save_view(id="v", message="on s3", verbose=False)
    ds[4:8].save_view(id="o", optimize=True, verbose=False)
    _change_everything(ds)
    again = hub.load(url, creds=creds, read_only=True)
    assert [e.id for e in again.get_views(ds.commits[-1]["commit"])] == ["v", "o"]
    _check(again.load_view("v"), data, [0, 11, 3])
    _check(again.load_view("o"), data, [4, 5, 6, 7])
    ds.delete_view("o")
    assert [k for k in ds.storage.list("views/") if not k.endswith("/selection")] == []


def test_list_get_delete(url: str) -> None:
    ds, _ = _make(url)
    first = ds.commit_id
    a = ds[:3].save_view(message="first three", verbose=False)
    assert a == ds[:3].save_view(message="again", verbose=False)  # generated ids hash the view: the same id
    ds[[4]].save_view(id="b", optimize=True, verbose=False)
    ds.x[0] = np.zeros((1, 3), np.float32)
    ds.commit("second")
    ds[[0]].save_view(id="c", verbose=False)
    assert [e.id for e in ds.get_views()] == ["c"]
    assert [e.id for e in ds.get_views(first)] == [a, "b"]
    assert ds.get_view(a).message == "again"
    ds.checkout(first)
    assert [e.id for e in ds.get_views()] == [a, "b"]
    ds.delete_view("b")
    ds.get_view(a).delete()
    assert ds.get_views(first) == []
    assert [e.id for e in hub.load(url, read_only=True).get_views(ds.commits[0]["commit"])] == []
    # Only view c's selection remains.
    assert ds.storage.list("views/") == [ds.get_view("c")["selection"]["key"]]
    for call in (ds.get_view, ds.load_view, ds.delete_view):
        with pytest.raises(ViewNotFoundError, match="No view with id 'nope'") as err:
            call("nope")
        assert isinstance(err.value, KeyError)


def test_resaving_an_id_replaces_the_view_and_its_objects(url: str) -> None:
    ds, data = _make(url)
    ds[[1, 2]].save_view(id="v", optimize=True, verbose=False)
    before = set(ds.storage.list("views/"))
    assert before
    ds[[3]].save_view(id="v", verbose=False)
    after = set(ds.storage.list("views/"))
    assert not before & after  # the old selection and copy are gone
    _check(ds.load_view("v"), data, [3])


def test_optimize_later(url: str) -> None:
    ds, data = _make(url)
    ds[[8, 2]].save_view(id="v", verbose=False)
    _change_everything(ds)
    entry = ds.get_view("v")
    assert entry.virtual
    assert entry.optimize(progressbar=False) is entry and not entry.virtual
    assert not ds.get_view("v").virtual
    _check(ds.load_view("v"), data, [8, 2])
    _check(ds.load_view("v", optimize=True, progressbar=False), data, [8, 2])


@pytest.mark.parametrize("optimize", [False, True])
def test_view_saved_at_a_path(url: str, tmp_path: Path, optimize: bool) -> None:
    ds, data = _make(url)
    target = str(tmp_path / "elsewhere")
    assert ds[[6, 0]].save_view(message="out", path=target, optimize=optimize, verbose=False) == target
    assert ds.get_views() == []  # an external view is not listed in its source
    _change_everything(ds)
    loaded = hub.load(target)
    _check(loaded, data, [6, 0])
    if optimize:
        assert loaded.info["source-dataset"] == url and loaded.info["message"] == "out"
    with pytest.raises(hub.errors.DatasetExistsError):
        ds[[1]].save_view(path=target, verbose=False)
    ds[[1]].save_view(path=target, overwrite=True, verbose=False)  # of the latest commit
    assert hub.load(target).x.numpy().tobytes() == ds[[1]].x.numpy().tobytes()


def test_refusals(url: str, tmp_path: Path) -> None:
    ds = hub.empty(url)
    with pytest.raises(DatasetViewSavingError, match="no commit yet"):
        ds.save_view(verbose=False)
    ds.create_tensor("x")
    ds.x.append([1])
    with pytest.raises(DatasetViewSavingError, match="uncommitted changes"):
        ds[:1].save_view(verbose=False)
    with pytest.raises(DatasetViewSavingError, match="uncommitted changes"):
        ds[:1].save_view(path=str(tmp_path / "p"), verbose=False)
    assert not hub.exists(str(tmp_path / "p"))
    ds.commit()
    with pytest.raises(hub.errors.DatasetOptionError, match="path="):
        ds[:1].save_view(creds={}, verbose=False)
    with pytest.raises(hub.errors.SchedulerError):
        ds[:1].save_view(scheduler="nope", verbose=False)
    ds[:1].save_view(id="v", verbose=False)
    ro = hub.load(url, read_only=True)
    with pytest.raises(ReadOnlyError):
        ro[:1].save_view(verbose=False)
    with pytest.raises(ReadOnlyError):
        ro.delete_view("v")
    with pytest.raises(ReadOnlyError):
        ro.get_view("v").optimize(progressbar=False)
    assert ro.get_view("v").virtual
    assert [e.id for e in ro.get_views()] == ["v"]


def test_views_are_not_changes(url: str) -> None:
    ds, _ = _make(url)
    node = json.loads(ds.storage.get("hub.json"))["heads"]["main"]
    meta_before = ds.storage.get(f"versions/{node}/meta.json")
    root_before = ds.storage.get("hub.json")
    ds[:5].save_view(id="a", optimize=True, verbose=False)
    ds.delete_view("a")
    ds[:5].save_view(id="b", verbose=False)
    assert not ds.has_head_changes
    with pytest.raises(EmptyCommitError):
        ds.commit("nothing")
    assert ds.storage.get(f"versions/{node}/meta.json") == meta_before
    assert ds.storage.get("hub.json") == root_before
    assert json.loads(ds.storage.get(views.VIEWS_KEY))["format_version"] == "1.4"


def test_concurrent_savers_both_survive(url: str) -> None:
    ds, data = _make(url)
    commit = ds.commit_id
    writers = [hub.load(url, version=commit) for _ in range(2)]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def save(w: int) -> None:
        try:
            barrier.wait()
            for i in range(12):
                writers[w][[w, i]].save_view(id=f"w{w}-{i}", message=str(i), verbose=False)
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=save, args=(w,)) for w in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    saved = {e.id for e in ds.get_views()}
    assert saved == {f"w{w}-{i}" for w in range(2) for i in range(12)}
    for w in range(2):
        for i in (0, 11):
            _check(ds.load_view(f"w{w}-{i}"), data, [w, i])


def test_interrupted_save_leaves_a_consistent_dataset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = str(tmp_path / "ds")
    ds, data = _make(url)
    ds[[2, 3]].save_view(id="kept", optimize=True, verbose=False)
    objects = set(ds.storage.list())
    # The save writes its selection under one prefix, then its optimized copy under another: a file where the copy's
    # directory must go makes the local storage fail half-way through.
    uids = iter(["00000000000000aa", "00000000000000bb"])
    monkeypatch.setattr(views, "_new_uid", lambda: next(uids))
    (tmp_path / "ds" / "views" / "00000000000000bb").write_bytes(b"in the way")
    with pytest.raises(HubError):
        ds[[4, 9]].save_view(id="broken", optimize=True, verbose=False)
    monkeypatch.undo()
    (tmp_path / "ds" / "views" / "00000000000000bb").unlink()
    assert set(ds.storage.list()) == objects  # the selection it wrote first was removed again
    again = hub.load(url, read_only=True)
    assert [e.id for e in again.get_views()] == ["kept"]
    _check(again.load_view("kept"), data, [2, 3])
    with pytest.raises(ViewNotFoundError):
        again.get_view("broken")
    ds[[4, 9]].save_view(id="broken", optimize=True, verbose=False)
    _check(ds.load_view("broken"), data, [4, 9])


def test_interrupted_save_at_a_path_leaves_no_dataset(url: str, tmp_path: Path) -> None:
    ds, _ = _make(url)
    target = tmp_path / "out"
    target.mkdir()
    (target / "versions").write_bytes(b"a file where a directory must go")
    for optimize in (False, True):
        with pytest.raises(HubError):
            ds[[1]].save_view(path=str(target), optimize=optimize, verbose=False)
        assert not hub.exists(str(target))
    assert ds.get_views() == []
