"""Linked samples: references to local files, S3 objects and HTTP URLs, read on access; credentials by key."""

from __future__ import annotations

import pickle
from pathlib import Path

import boto3
import numpy as np
import pytest
from PIL import Image

import hub
from hub.errors import LinkedSampleError, SampleDtypeError, TensorMetaError
from hub.storage import storage_from_url
from tests.core.media._make import decode_video, mem_url, moving_frames, write_video
from tests.core.media.link_transforms import link_objects
from tests.core.servers_gcs import GCSBucketUrl
from tests.core.servers_s3 import S3BucketUrl


def _image(seed: int, h: int = 20, w: int = 30) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.fixture
def pictures(tmp_path: Path) -> list[Path]:
    """Three PNGs (lossless, so decoded pixels are known exactly) of different sizes."""
    paths = []
    for i in range(3):
        path = tmp_path / "pictures" / f"p{i}.png"
        path.parent.mkdir(exist_ok=True)
        Image.fromarray(_image(i, 20 + i, 30)).save(path)
        paths.append(path)
    return paths


def test_local_links_read_the_files_on_access(pictures: list[Path], tmp_path: Path) -> None:
    ds = hub.empty(tmp_path / "ds")
    ds.create_tensor("images", htype="link[image]")
    ds.images.extend([hub.link(p) for p in pictures])
    ds = hub.load(tmp_path / "ds", read_only=True)
    assert ds.images.meta.sample_compression is None  # each file's format comes from its header
    for i, path in enumerate(pictures):
        np.testing.assert_array_equal(ds.images[i].numpy(), _image(i, 20 + i, 30))
        assert ds.images[i].tobytes() == path.read_bytes()
        assert ds.images[i].sample_info["url"] == str(path)
        assert ds.images[i].sample_info["format"] == "png"
    assert [tuple(s) for s in ds.images.shapes()] == [(20, 30, 3), (21, 30, 3), (22, 30, 3)]
    np.testing.assert_array_equal(ds.images[1, 2:5, :4].numpy(), _image(1, 21, 30)[2:5, :4])
    assert len(ds.images.numpy(aslist=True)) == 3
    # The dataset holds the reference, not the pixels: a changed file reads as changed.
    Image.fromarray(_image(9, 20, 30)).save(pictures[0])
    np.testing.assert_array_equal(ds.images[0].numpy(), _image(9, 20, 30))


def test_a_missing_link_names_the_index_and_the_url(pictures: list[Path]) -> None:
    ds = hub.empty(mem_url())
    ds.create_tensor("images", htype="link[image]")
    missing = pictures[0].parent / "nope.png"
    with pytest.raises(LinkedSampleError, match=r"nope\.png"):
        ds.images.append(hub.link(missing))
    assert len(ds.images) == 0
    ds.images.extend([hub.link(p) for p in pictures])
    pictures[2].unlink()
    with pytest.raises(LinkedSampleError, match=r"sample 2.*p2\.png") as info:
        ds.images.numpy(aslist=True)
    assert isinstance(info.value, hub.HubError)
    with pytest.raises(SampleDtypeError, match=r"hub\.link"):
        ds.images.append(str(pictures[0]))


def test_http_links(pictures: list[Path], http_root: tuple[Path, str]) -> None:
    root, base = http_root
    (root / "a.png").write_bytes(pictures[1].read_bytes())
    ds = hub.empty(mem_url())
    ds.create_tensor("images", htype="link[image]", sample_compression="png")
    ds.images.append(hub.link(f"{base}/a.png"))
    np.testing.assert_array_equal(ds.images[0].numpy(), _image(1, 21, 30))
    (root / "a.png").unlink()
    with pytest.raises(LinkedSampleError, match=rf"sample 0.*{base}/a\.png.*404"):
        ds.images[0].numpy()


def test_s3_links_use_populated_credentials(
    pictures: list[Path], s3_bucket_url: S3BucketUrl, s3_server: str, tmp_path: Path
) -> None:
    bucket = s3_bucket_url.url.split("/")[2]
    client = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    for i, path in enumerate(pictures):
        client.put_object(Bucket=bucket, Key=f"raw/p{i}.png", Body=path.read_bytes())
    client.close()
    creds = {"endpoint_url": s3_server, "aws_access_key_id": "testing-key", "aws_secret_access_key": "testing-secret"}
    ds = hub.empty(tmp_path / "ds")
    ds.create_tensor("images", htype="link[image]")
    with pytest.raises(LinkedSampleError, match="add_creds_key"):
        ds.images.append(hub.link(f"s3://{bucket}/raw/p0.png", creds_key="lake"))
    ds.add_creds_key("lake")
    with pytest.raises(LinkedSampleError, match="populate_creds"):
        ds.images.append(hub.link(f"s3://{bucket}/raw/p0.png", creds_key="lake"))
    ds.populate_creds("lake", creds)
    ds.images.extend([hub.link(f"s3://{bucket}/raw/p{i}.png", creds_key="lake") for i in range(3)])
    np.testing.assert_array_equal(ds.images[2].numpy(), _image(2, 22, 30))
    # Loader workers get the populated credentials with the pickled dataset.
    clone = pickle.loads(pickle.dumps(ds))
    np.testing.assert_array_equal(clone.images[1].numpy(), _image(1, 21, 30))
    ds.close()
    # Only the key's name is stored: no stored object holds the credentials.
    stored = [p.read_bytes() for p in (tmp_path / "ds").rglob("*") if p.is_file()]
    assert not any(b"testing-secret" in data or s3_server.encode() in data for data in stored)
    reopened = hub.load(tmp_path / "ds")
    assert reopened.get_creds_keys() == ["lake"]
    with pytest.raises(LinkedSampleError, match=r"sample 0.*populate_creds"):
        reopened.images[0].numpy()
    reopened.populate_creds("lake", creds)
    np.testing.assert_array_equal(reopened.images[0].numpy(), _image(0, 20, 30))
    with pytest.raises(TensorMetaError, match="add_creds_key"):
        reopened.populate_creds("other", creds)
    with pytest.raises(LinkedSampleError, match=r"nothing\.png"):
        reopened.images.append(hub.link(f"s3://{bucket}/raw/nothing.png", creds_key="lake"))


@pytest.mark.parametrize("scheduler", ["threaded", "processed"])
def test_transforms_append_links_with_the_output_datasets_credentials(
    scheduler: str, pictures: list[Path], s3_bucket_url: S3BucketUrl, s3_server: str, tmp_path: Path
) -> None:
    bucket = s3_bucket_url.url.split("/")[2]
    client = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    for i, path in enumerate(pictures):
        client.put_object(Bucket=bucket, Key=f"raw/p{i}.png", Body=path.read_bytes())
    client.close()
    ds = hub.empty(tmp_path / "ds")
    ds.create_tensor("images", htype="link[image]")
    ds.add_creds_key("lake")
    ds.populate_creds("lake", {"endpoint_url": s3_server})
    link_objects(bucket=bucket).eval(
        [f"p{i}.png" for i in range(3)], ds, scheduler=scheduler, num_workers=2, progressbar=False
    )
    assert [tuple(s) for s in ds.images.shapes()] == [(20, 30, 3), (21, 30, 3), (22, 30, 3)]
    np.testing.assert_array_equal(ds.images[2].numpy(), _image(2, 22, 30))


def test_gcs_links(pictures: list[Path], gcs_bucket_url: GCSBucketUrl) -> None:
    bucket = storage_from_url(gcs_bucket_url.url, creds=gcs_bucket_url.creds)
    bucket.set("raw/p1.png", pictures[1].read_bytes())
    ds = hub.empty(mem_url())
    ds.create_tensor("images", htype="link[image]")
    ds.images.append(hub.link(f"{gcs_bucket_url.url}/raw/p1.png"))
    np.testing.assert_array_equal(ds.images[0].numpy(), _image(1, 21, 30))
    bucket.delete("raw/p1.png")
    with pytest.raises(LinkedSampleError, match=r"sample 0.*raw/p1\.png"):
        ds.images[0].numpy()


def test_linked_videos_decode_frame_ranges(tmp_path: Path) -> None:
    clip = write_video(tmp_path / "clip.mp4", moving_frames(30), "mp4")
    ds = hub.empty(mem_url())
    ds.create_tensor("videos", htype="link[video]")
    ds.videos.append(hub.link(clip))
    assert ds.videos[0].shape == (30, 48, 64, 3)
    np.testing.assert_array_equal(ds.videos[0, 12:18].numpy(), decode_video(clip)[12:18])
    assert len(ds.videos[0].timestamps) == 30


def test_links_of_the_wrong_kind_are_refused(pictures: list[Path], tmp_path: Path) -> None:
    clip = write_video(tmp_path / "clip.mp4", moving_frames(4), "mp4")
    ds = hub.empty(mem_url())
    ds.create_tensor("images", htype="link[image]")
    with pytest.raises(SampleDtypeError, match="video"):
        ds.images.append(hub.link(clip))
    with pytest.raises(TensorMetaError, match="link"):
        ds.create_tensor("bad", htype="link[text]")


def test_unverified_links_are_not_read_until_accessed(pictures: list[Path]) -> None:
    ds = hub.empty(mem_url())
    ds.create_tensor("images", htype="link[image]", verify=False)  # Hub 2.x's option
    assert ds.images.info.verify is False
    missing = pictures[0].parent / "later.png"
    ds.images.extend([hub.link(pictures[1]), hub.link(missing, creds_key="ENV")])
    assert ds.images[0].shape == (0, 0, 0)  # unknown until read
    np.testing.assert_array_equal(ds.images[0].numpy(), _image(1, 21, 30))
    with pytest.raises(LinkedSampleError, match=r"sample 1.*later\.png"):
        ds.images[1].numpy()
    missing.write_bytes(pictures[2].read_bytes())
    np.testing.assert_array_equal(ds.images[1].numpy(), _image(2, 22, 30))
    verified = hub.empty(mem_url())
    verified.create_tensor("images", htype="link[image]", verify=True)
    with pytest.raises(LinkedSampleError):
        verified.images.append(hub.link(pictures[0].parent / "absent.png"))
