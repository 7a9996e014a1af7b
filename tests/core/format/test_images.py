"""Images: files stored verbatim through hub.read, numpy images encoded, the seed's example."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import hub
from hub.errors import CorruptSampleError, UnknownCompressionError


def _photo(h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    """A smooth, photo-like RGB image (noise would be unrealistic for JPEG)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 / w, y * 255 / h, (x + y) * 127 / (w + h)], axis=-1)
    return np.clip(base + rng.normal(0, 3, base.shape), 0, 255).astype(np.uint8)


def _write(path: Path, arr: np.ndarray, fmt: str) -> Path:
    Image.fromarray(arr).save(path, format=fmt, quality=90) if fmt == "JPEG" else Image.fromarray(arr).save(path, fmt)
    return path


@pytest.fixture
def animals(tmp_path: Path) -> Path:
    """An ImageFolder-style tree of JPEGs: animals/<class>/<file>.jpg."""
    root = tmp_path / "animals"
    for c, name in enumerate(["cats", "dogs"]):
        (root / name).mkdir(parents=True)
        for i in range(3):
            _write(root / name / f"{i}.jpg", _photo(seed=10 * c + i), "JPEG")
    return root


def test_seed_example_runs_unchanged(animals: Path, tmp_path: Path) -> None:
    os.chdir(tmp_path)
    # The Hub 2.x README's create-and-load example, verbatim apart from its paths.
    ds = hub.empty("./animals_hub")
    dataset_folder = str(animals)
    class_names = sorted(os.listdir(dataset_folder))
    files_list = []
    for dirpath, _dirnames, filenames in os.walk(dataset_folder):
        for filename in filenames:
            files_list.append(os.path.join(dirpath, filename))
    with ds:
        ds.create_tensor("images", htype="image", sample_compression="jpeg")
        ds.create_tensor("labels", htype="class_label", class_names=class_names)
        ds.info.update(description="My first Hub dataset")
        ds.images.info.update(camera_type="SLR")
        for file in files_list:
            label_text = os.path.basename(os.path.dirname(file))
            label_num = class_names.index(label_text)
            ds.append({"images": hub.read(file), "labels": np.uint32(label_num)})
        ds.images.append(np.random.randint(0, 255, (32, 32, 3), dtype=np.uint8))
        ds.labels.append(np.uint32(0))

    ds = hub.load("./animals_hub")
    assert ds.images[0].numpy().shape == (48, 64, 3)
    assert ds.images[6].numpy().shape == (32, 32, 3)
    assert ds.labels.info.class_names == ["cats", "dogs"]
    assert ds.info.description == "My first Hub dataset"
    assert ds.images.info.camera_type == "SLR"
    assert len(ds) == 7


def test_files_stored_verbatim_and_decoded_lazily(animals: Path, tmp_path: Path) -> None:
    ds = hub.empty(str(tmp_path / "ds"))
    ds.create_tensor("images", htype="image", sample_compression="jpg")
    files = sorted(animals.rglob("*.jpg"))
    with ds:
        for f in files:
            ds.images.append(hub.read(f))
    for i, f in enumerate(files):
        assert ds.images[i].tobytes() == f.read_bytes()
        np.testing.assert_array_equal(ds.images[i].numpy(), np.asarray(Image.open(f).convert("RGB")))
    assert ds.images.shape == (len(files), 48, 64, 3)
    assert ds.images.shapes().tolist() == [[48, 64, 3]] * len(files)


def test_png_file_into_jpeg_tensor_is_reencoded(tmp_path: Path) -> None:
    arr = _photo()
    png = _write(tmp_path / "a.png", arr, "PNG")
    ds = hub.empty(str(tmp_path / "ds"))
    ds.create_tensor("images", htype="image", sample_compression="png")
    ds.create_tensor("jpegs", htype="image", sample_compression="jpeg")
    ds.images.append(hub.read(png))
    ds.jpegs.append(hub.read(png))
    np.testing.assert_array_equal(ds.images[0].numpy(), arr)
    assert ds.jpegs[0].tobytes()[:3] == b"\xff\xd8\xff"
    assert np.abs(ds.jpegs[0].numpy().astype(int) - arr).mean() < 4


@pytest.mark.parametrize("compression", ["png", "bmp", "tiff", "webp"])
def test_lossless_numpy_images_round_trip(tmp_path: Path, compression: str) -> None:
    ds = hub.empty(str(tmp_path / "ds"))
    ds.create_tensor("images", htype="image", sample_compression=compression)
    images = [_photo(20, 30, s) for s in range(3)] + [_photo(7, 5, 9)]
    ds.images.extend(images)
    for i, img in enumerate(images):
        if compression == "webp":
            assert ds.images[i].numpy().shape == img.shape
        else:
            np.testing.assert_array_equal(ds.images[i].numpy(), img)


def test_grayscale_images(tmp_path: Path) -> None:
    ds = hub.empty(str(tmp_path / "ds"))
    ds.create_tensor("g", htype="image.gray", sample_compression="png")
    img = _photo()[..., 0]
    ds.g.append(img)
    np.testing.assert_array_equal(ds.g[0].numpy(), img)


def test_corrupt_file_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jpg"
    good = _write(tmp_path / "good.jpg", _photo(), "JPEG").read_bytes()
    bad.write_bytes(good[: len(good) // 3])
    with pytest.raises(CorruptSampleError):
        hub.read(bad, verify=True)
    ds = hub.empty(str(tmp_path / "ds"))
    ds.create_tensor("images", htype="image", sample_compression="png")
    with pytest.raises(CorruptSampleError):
        ds.images.append(hub.read(bad))
    assert len(hub.load(str(tmp_path / "ds")).images) == 0


def test_unknown_file_format(tmp_path: Path) -> None:
    f = tmp_path / "x.bin"
    f.write_bytes(b"not an image at all")
    with pytest.raises(UnknownCompressionError, match="compression="):
        hub.read(f)
    with pytest.raises(FileNotFoundError):
        hub.read(tmp_path / "missing.jpg")


def test_image_region_reads(tmp_path: Path) -> None:
    ds = hub.empty(str(tmp_path / "ds"))
    ds.create_tensor("images", htype="image", sample_compression="png")
    img = _photo()
    ds.images.append(img)
    np.testing.assert_array_equal(ds.images[0, 10:20, :, 1].numpy(), img[10:20, :, 1])


def test_in_memory_jpeg_bytes(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.fromarray(_photo()).save(buf, format="JPEG")
    f = tmp_path / "x.jpeg"
    f.write_bytes(buf.getvalue())
    sample = hub.read(f)
    assert sample.compression == "jpeg"
    assert sample.shape == (48, 64, 3)
