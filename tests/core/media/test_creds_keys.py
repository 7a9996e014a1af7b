"""Creds keys: renaming one (``ds.update_creds_key``) rewrites no linked sample; errors say what to do."""

from __future__ import annotations

from pathlib import Path

import boto3
import numpy as np
import pytest
from PIL import Image

import hub
from hub.errors import CredsKeyExistsError, LinkedSampleError, TensorMetaError, UnknownCredsKeyError
from tests.core.media._make import mem_url
from tests.core.media.conftest import PRIVATE_HEADERS
from tests.core.media.link_transforms import link_objects
from tests.core.servers_s3 import S3BucketUrl


def _image(seed: int, h: int = 6) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, 5, 3), dtype=np.uint8)


def _png(path: Path, seed: int, h: int = 6) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(_image(seed, h)).save(path)
    return path


def _data_objects(root: Path) -> dict[str, bytes]:
    """Every chunk and chunk index of the dataset at ``root``, by key."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for folder in ("chunks", "indexes")
        for p in (root / folder).rglob("*")
        if p.is_file()
    }


def test_renaming_a_creds_key_rewrites_no_sample(tmp_path: Path, http_root: tuple[Path, str]) -> None:
    www, base = http_root
    for k in range(3):
        _png(www / "private" / f"{k}.png", k)
    public = _png(www / "public.png", 7)
    ds = hub.empty(tmp_path / "ds")
    ds.create_tensor("images", htype="link[image]")
    ds.create_tensor("scenes", htype="sequence[link[image]]")
    ds.add_creds_key("web")
    ds.populate_creds("web", {"headers": PRIVATE_HEADERS})
    ds.images.extend([hub.link(f"{base}/private/0.png", creds_key="web"), hub.link(f"{base}/{public.name}")])
    ds.scenes.append([hub.link(f"{base}/private/{k}.png", creds_key="web") for k in (1, 2)])
    before = _data_objects(tmp_path / "ds")

    ds.update_creds_key("web", "site")
    assert ds.get_creds_keys() == ["site"]
    assert _data_objects(tmp_path / "ds") == before  # only the version node's metadata changed
    np.testing.assert_array_equal(ds.images[0].numpy(), _image(0))  # the populated credentials moved along
    assert [ds.images[i].sample_info["creds_key"] for i in range(2)] == ["site", None]
    assert [i["creds_key"] for i in ds.scenes[0].sample_info] == ["site", "site"]
    ds.close()

    ds = hub.load(tmp_path / "ds")
    assert ds.get_creds_keys() == ["site"]
    with pytest.raises(UnknownCredsKeyError, match=r"add_creds_key\('web'\)") as info:
        ds.populate_creds("web", {"headers": PRIVATE_HEADERS})
    assert isinstance(info.value, KeyError) and isinstance(info.value, TensorMetaError)
    with pytest.raises(LinkedSampleError, match=r"sample 0: .*populate_creds\('site'"):
        ds.images[0].numpy()
    ds.populate_creds("site", {"headers": PRIVATE_HEADERS})
    np.testing.assert_array_equal(ds.scenes[0][1].numpy(), _image(2))
    ds.images.append(hub.link(f"{base}/private/2.png", creds_key="site"))
    np.testing.assert_array_equal(ds.images[2].numpy(), _image(2))

    # The old name is free again, for a key of its own: the links renamed to "site" keep using site's credentials.
    ds.add_creds_key("web")
    assert ds.get_creds_keys() == ["site", "web"]
    ds.populate_creds("web", {"headers": {"Authorization": "Bearer wrong"}})
    with pytest.raises(LinkedSampleError, match=r"private/1\.png.*403"):
        ds.images.append(hub.link(f"{base}/private/1.png", creds_key="web"))
    ds.images.append(hub.link(f"{base}/{public.name}", creds_key="web"))
    assert [ds.images[i].sample_info["creds_key"] for i in range(4)] == ["site", None, "site", "web"]
    np.testing.assert_array_equal(ds.images[0].numpy(), _image(0))
    ds.update_creds_key("site", "old")  # renaming again, both kinds of key, still rewrites nothing
    ds.update_creds_key("web", "site")
    ds.close()
    ds = hub.load(tmp_path / "ds", read_only=True)
    assert ds.get_creds_keys() == ["old", "site"]
    ds.populate_creds("old", {"headers": PRIVATE_HEADERS})
    ds.populate_creds("site", {})
    assert [ds.images[i].sample_info["creds_key"] for i in range(4)] == ["old", None, "old", "site"]
    np.testing.assert_array_equal(ds.scenes[0][0].numpy(), _image(1))


def test_renaming_errors_say_what_to_do() -> None:
    ds = hub.empty(mem_url())
    ds.add_creds_key("a")
    ds.add_creds_key("b")
    with pytest.raises(UnknownCredsKeyError, match=r"'nope'.*\['a', 'b'\].*add_creds_key"):
        ds.update_creds_key("nope", "c")
    with pytest.raises(CredsKeyExistsError, match=r"already has a creds key named 'b'.*get_creds_keys"):
        ds.update_creds_key("a", "b")
    with pytest.raises(TensorMetaError, match="environment"):
        ds.update_creds_key("a", "ENV")
    with pytest.raises(TensorMetaError, match="non-empty string"):
        ds.update_creds_key("a", "")
    assert ds.get_creds_keys() == ["a", "b"]
    ds.change_creds_management("a", False)
    with pytest.raises(TensorMetaError, match="populate_creds"):
        ds.change_creds_management("a", True)
    with pytest.raises(UnknownCredsKeyError):
        ds.change_creds_management("zzz", False)


def test_a_rename_belongs_to_its_version(tmp_path: Path) -> None:
    picture = _png(tmp_path / "p.png", 3)
    ds = hub.empty(tmp_path / "ds")
    ds.create_tensor("images", htype="link[image]")
    ds.add_creds_key("ENV-like")
    ds.images.append(hub.link(picture, creds_key="ENV-like"))
    first = ds.commit("one link")
    ds.update_creds_key("ENV-like", "renamed")
    ds.commit("renamed")
    assert ds.images[0].sample_info["creds_key"] == "renamed"
    ds.checkout(first)
    assert ds.get_creds_keys() == ["ENV-like"] and ds.images[0].sample_info["creds_key"] == "ENV-like"
    ds.checkout("main")
    assert ds.get_creds_keys() == ["renamed"]
    np.testing.assert_array_equal(ds.images[0].numpy(), _image(3))  # local files need no credentials


def test_transforms_store_a_renamed_key_by_its_id(s3_bucket_url: S3BucketUrl, s3_server: str, tmp_path: Path) -> None:
    bucket = s3_bucket_url.url.split("/")[2]
    client = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    for k in range(2):
        client.put_object(Bucket=bucket, Key=f"raw/p{k}.png", Body=_png(tmp_path / f"p{k}.png", k).read_bytes())
    client.close()
    ds = hub.empty(tmp_path / "ds")
    ds.create_tensor("images", htype="link[image]")
    ds.add_creds_key("first")
    ds.update_creds_key("first", "lake")  # the transform appends links with creds_key="lake"
    ds.populate_creds("lake", {"endpoint_url": s3_server})
    link_objects(bucket=bucket).eval(["p0.png", "p1.png"], ds, scheduler="threaded", num_workers=2, progressbar=False)
    ds.update_creds_key("lake", "again")
    assert [ds.images[k].sample_info["creds_key"] for k in range(2)] == ["again", "again"]
    np.testing.assert_array_equal(ds.images[1].numpy(), _image(1))


def test_a_merge_brings_the_creds_keys_of_the_merged_links(tmp_path: Path, http_root: tuple[Path, str]) -> None:
    www, base = http_root
    _png(www / "private" / "0.png", 0)
    ds = hub.empty(tmp_path / "ds")
    ds.create_tensor("images", htype="link[image]")
    ds.add_creds_key("shared")
    ds.images.append(hub.link(_png(tmp_path / "local.png", 5)))
    ds.commit("one local link")
    ds.checkout("alt", create=True)
    ds.add_creds_key("old")
    ds.update_creds_key("old", "web")
    ds.populate_creds("web", {"headers": PRIVATE_HEADERS})
    ds.images.append(hub.link(f"{base}/private/0.png", creds_key="web"))
    ds.commit("a private link")
    ds.checkout("main")
    ds.update_creds_key("shared", "mine")  # one key, renamed on one branch: the merge keeps this branch's name
    ds.merge("alt")
    assert ds.get_creds_keys() == ["mine", "web"]
    assert ds.images[1].sample_info["creds_key"] == "web"
    np.testing.assert_array_equal(ds.images[1].numpy(), _image(0))
