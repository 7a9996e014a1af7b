"""sample_info of images: size, mode and EXIF from the stored file's header."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

import hub
from tests.core.media._make import mem_url


def test_image_sample_info_has_size_mode_and_exif(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    exif = Image.Exif()
    exif[0x010F] = "HubCam"  # Make
    exif[0x0110] = "Model 7"  # Model
    Image.fromarray(np.full((10, 14, 3), 90, np.uint8)).save(path, exif=exif)
    ds = hub.empty(mem_url())
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    ds.create_tensor("raw", dtype="uint8")
    ds.append({"images": hub.read(path), "raw": np.zeros((2, 3), np.uint8)})
    ds.images.append(np.zeros((4, 6, 3), np.uint8))
    info = ds.images[0].sample_info
    assert info["size"] == [14, 10] and info["mode"] == "RGB" and info["shape"] == [10, 14, 3]
    assert info["exif"]["Make"] == "HubCam" and info["exif"]["Model"] == "Model 7"
    assert ds.images.sample_info[1]["exif"] == {} and ds.images.sample_info[1]["size"] == [6, 4]
    assert ds.raw[0].sample_info == {"shape": [2, 3], "dtype": "uint8"}
