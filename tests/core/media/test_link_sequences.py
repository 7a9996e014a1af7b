"""Sequences of links (``sequence[link[image]]``, ...): each sample a list of references, each read on access."""

from __future__ import annotations

from pathlib import Path

import boto3
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import hub
from hub.errors import LinkedSampleError, SampleDtypeError, TensorMetaError
from tests.core.media._make import (
    AUDIO_FORMATS,
    decode_audio,
    decode_video,
    mem_url,
    moving_frames,
    tone,
    write_audio,
    write_video,
)
from tests.core.media.conftest import PRIVATE_HEADERS
from tests.core.servers_s3 import S3BucketUrl


def _image(seed: int, h: int, w: int = 8) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _png(path: Path, seed: int, h: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(_image(seed, h)).save(path)
    return path


def test_local_sequences_of_links_round_trip(tmp_path: Path) -> None:
    paths = [_png(tmp_path / "img" / f"{k}.png", k, 5 + k) for k in range(5)]
    ds = hub.empty(tmp_path / "ds")
    ds.create_tensor("scenes", htype="sequence[link[image]]")
    ds.scenes.extend([[hub.link(p) for p in paths[:2]], [hub.link(paths[4])], [hub.link(p) for p in paths[1:4]]])
    ds = hub.load(tmp_path / "ds", read_only=True)
    assert ds.scenes.htype == "sequence[link[image]]" and len(ds.scenes) == 3
    assert [tuple(s) for s in ds.scenes.shapes()] == [(2, 6, 8, 3), (1, 9, 8, 3), (3, 8, 8, 3)]
    items = ds.scenes[2].numpy(aslist=True)
    assert isinstance(items, list) and len(items) == 3
    for got, k in zip(items, range(1, 4), strict=True):
        np.testing.assert_array_equal(got, _image(k, 5 + k))
    np.testing.assert_array_equal(ds.scenes[1][0].numpy(), _image(4, 9))
    np.testing.assert_array_equal(ds.scenes[2][1, 2:4, :, 0].numpy(), _image(2, 7)[2:4, :, 0])
    assert ds.scenes[0][1].shape == (6, 8, 3)
    assert ds.scenes[0][1].tobytes() == paths[1].read_bytes()
    info = ds.scenes[0][1].sample_info
    assert info["url"] == str(paths[1]) and info["creds_key"] is None and info["format"] == "png"
    assert [i["url"] for i in ds.scenes[2].sample_info] == [str(p) for p in paths[1:4]]
    as_lists = ds.scenes.numpy(aslist=True)
    assert [len(s) for s in as_lists] == [2, 1, 3]
    np.testing.assert_array_equal(as_lists[0][0], _image(0, 5))
    # References, not copies: a changed file reads as changed.
    _png(paths[0], 99, 5)
    np.testing.assert_array_equal(ds.scenes[0][0].numpy(), _image(99, 5))


def test_a_missing_item_names_the_sample_the_item_and_the_url(tmp_path: Path) -> None:
    paths = [_png(tmp_path / f"{k}.png", k, 4) for k in range(3)]
    ds = hub.empty(mem_url())
    ds.create_tensor("scenes", htype="sequence[link[image]]")
    ds.scenes.extend([[hub.link(paths[0])], [hub.link(p) for p in paths]])
    with pytest.raises(LinkedSampleError, match=r"sample 2, item 1: .*gone\.png"):
        ds.scenes.append([hub.link(paths[0]), hub.link(tmp_path / "gone.png")])
    assert len(ds.scenes) == 2
    paths[2].unlink()
    with pytest.raises(LinkedSampleError, match=r"sample 1: item 2: .*2\.png"):
        ds.scenes[1].numpy(aslist=True)
    with pytest.raises(LinkedSampleError, match=r"sample 1: item 2: .*2\.png"):
        ds.scenes.numpy(aslist=True)
    with pytest.raises(LinkedSampleError, match=r"sample 1: item 2: .*2\.png"):
        ds.scenes[1][2].tobytes()
    np.testing.assert_array_equal(ds.scenes[1][1].numpy(), _image(1, 4))  # the others still read
    with pytest.raises(SampleDtypeError, match=r"item 0.*hub\.link"):
        ds.scenes.append([str(paths[0])])


def test_items_link_to_s3_http_and_local_files_with_their_own_creds_keys(
    tmp_path: Path, s3_bucket_url: S3BucketUrl, s3_server: str, http_root: tuple[Path, str]
) -> None:
    bucket = s3_bucket_url.url.split("/")[2]
    client = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    client.put_object(Bucket=bucket, Key="raw/a.png", Body=_png(tmp_path / "a.png", 1, 6).read_bytes())
    client.close()
    root, base = http_root
    _png(root / "private" / "b.png", 2, 7)
    local = _png(tmp_path / "c.png", 3, 8)
    ds = hub.empty(tmp_path / "ds")
    ds.create_tensor("scenes", htype="sequence[link[image]]", sample_compression="png")
    ds.add_creds_key("lake")
    ds.add_creds_key("web")
    ds.populate_creds("lake", {"endpoint_url": s3_server})
    ds.populate_creds("web", {"headers": PRIVATE_HEADERS})
    scene = [
        hub.link(f"s3://{bucket}/raw/a.png", creds_key="lake"),
        hub.link(f"{base}/private/b.png", creds_key="web"),
        hub.link(local),
    ]
    ds.scenes.append(scene)
    with pytest.raises(LinkedSampleError, match=r"item 0: .*add_creds_key"):
        ds.scenes.append([hub.link(f"s3://{bucket}/raw/a.png", creds_key="nope")])
    with pytest.raises(LinkedSampleError, match=rf"item 0: .*{base}/private/b\.png.*403"):
        ds.scenes.append([hub.link(f"{base}/private/b.png")])  # without the web key's headers
    ds.close()
    ds = hub.load(tmp_path / "ds", read_only=True)
    with pytest.raises(LinkedSampleError, match=r"sample 0: item 0: .*populate_creds\('lake'"):
        ds.scenes[0].numpy(aslist=True)
    ds.populate_creds("lake", {"endpoint_url": s3_server})
    ds.populate_creds("web", {"headers": PRIVATE_HEADERS})
    got = ds.scenes[0].numpy(aslist=True)
    for value, (k, h) in zip(got, [(1, 6), (2, 7), (3, 8)], strict=True):
        np.testing.assert_array_equal(value, _image(k, h))
    assert [i["creds_key"] for i in ds.scenes[0].sample_info] == ["lake", "web", None]


def test_sequences_of_linked_videos_and_audio(tmp_path: Path) -> None:
    clips = [write_video(tmp_path / f"c{k}.mp4", moving_frames(12 + 4 * k, 16, 16), "mp4") for k in range(2)]
    sounds = [write_audio(tmp_path / f"s{k}.flac", tone(900 + k, 8000), "flac", 8000) for k in range(2)]
    ds = hub.empty(mem_url())
    ds.create_tensor("clips", htype="sequence[link[video]]")
    ds.create_tensor("sounds", htype="sequence[link[audio]]")
    ds.clips.append([hub.link(c) for c in clips])
    ds.sounds.append([hub.link(s) for s in sounds])
    assert ds.clips[0].shape == (2, 16, 16, 16, 3) and ds.clips[0][0].shape == (12, 16, 16, 3)
    np.testing.assert_array_equal(ds.clips[0][1, 3:9].numpy(), decode_video(clips[1])[3:9])
    assert len(ds.clips[0][1].timestamps) == 16
    np.testing.assert_array_equal(ds.sounds[0][1].numpy(), decode_audio(sounds[1].read_bytes())[0])
    np.testing.assert_array_equal(ds.sounds[0][0, 100:200].numpy(), decode_audio(sounds[0].read_bytes())[0][100:200])
    assert "flac" in AUDIO_FORMATS and ds.sounds[0][0].sample_info["sample_rate"] == 8000


def test_unverified_sequences_of_links_are_read_only_on_access(tmp_path: Path) -> None:
    ds = hub.empty(mem_url())
    ds.create_tensor("scenes", htype="sequence[link[image]]", verify=False)
    later = tmp_path / "later.png"
    ds.scenes.append([hub.link(later), hub.link(later)])
    assert ds.scenes[0].shape == (2, 0, 0, 0)  # unknown until read
    with pytest.raises(LinkedSampleError, match=r"sample 0: item 0: .*later\.png"):
        ds.scenes[0].numpy(aslist=True)
    _png(later, 5, 3)
    assert [v.shape for v in ds.scenes[0].numpy(aslist=True)] == [(3, 8, 3), (3, 8, 3)]


def test_only_sequences_may_hold_links() -> None:
    ds = hub.empty(mem_url())
    for htype in ("link[sequence[image]]", "link[link[image]]", "sequence[sequence[image]]", "sequence[link[text]]"):
        with pytest.raises(TensorMetaError, match="sequence"):
            ds.create_tensor("bad", htype=htype)


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("pool")
    return [_png(root / f"{k}.png", k, 3 + k) for k in range(4)]


@settings(max_examples=15, deadline=None)
@given(scenes=st.lists(st.lists(st.integers(0, 3), min_size=1, max_size=5), min_size=1, max_size=4))
def test_what_you_link_you_read_back(pool: list[Path], scenes: list[list[int]]) -> None:
    ds = hub.empty(mem_url())
    ds.create_tensor("scenes", htype="sequence[link[image]]")
    ds.scenes.extend([[hub.link(pool[k]) for k in scene] for scene in scenes])
    for i, scene in enumerate(scenes):
        items = ds.scenes[i].numpy(aslist=True)
        assert len(items) == len(scene)
        for j, k in enumerate(scene):
            np.testing.assert_array_equal(items[j], _image(k, 3 + k))
            assert ds.scenes[i][j].tobytes() == pool[k].read_bytes()
