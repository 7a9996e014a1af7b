"""Deterministic benchmark data: natural-looking JPEG photos cut from scikit-image's sample photos, and raw arrays.

Noise compresses badly and decodes about twice as slowly as a photo, so benchmarks of image formats need real
pictures. Each image is a random crop (position, scale, aspect) of one of scikit-image's colour photos, resized,
perhaps mirrored, with jittered brightness, contrast and saturation, all drawn from a generator seeded with
``(seed, index)``: image ``i`` is the same whatever the count, on every machine with the same Pillow.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = ["SEED", "raw_images", "natural_image", "write_image_folder", "write_jpegs"]

SEED = 20240601


def _motorcycle(side: int) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from skimage.data import stereo_motorcycle

        image: np.ndarray = stereo_motorcycle()[side]  # type: ignore[no-untyped-call]
        return image

    return load


@cache
def _photos() -> tuple[Image.Image, ...]:
    """The colour photographs in scikit-image's wheel (none needs a download)."""
    from skimage import data

    loaders: list[Callable[[], np.ndarray]] = [
        data.astronaut,
        data.coffee,
        data.chelsea,
        data.rocket,
        data.hubble_deep_field,
        data.immunohistochemistry,
        data.retina,
        _motorcycle(0),
        _motorcycle(1),
    ]
    return tuple(Image.fromarray(np.ascontiguousarray(load()[..., :3])) for load in loaders)


def natural_image(index: int, size: int = 256, seed: int = SEED) -> np.ndarray:
    """Image ``index`` of the sequence: a ``size`` x ``size`` RGB uint8 array."""
    rng = np.random.default_rng([seed, index])
    photos = _photos()
    photo = photos[int(rng.integers(len(photos)))]
    width, height = photo.size
    side = min(width, height) * rng.uniform(0.3, 1.0)
    aspect = np.exp(rng.uniform(-0.25, 0.25))
    crop_w, crop_h = min(width, side * aspect), min(height, side / aspect)
    left, top = rng.uniform(0, width - crop_w), rng.uniform(0, height - crop_h)
    box = (left, top, left + crop_w, top + crop_h)
    image = photo.resize((size, size), Image.Resampling.BILINEAR, box=box)
    if rng.random() < 0.5:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    pixels = np.asarray(image, dtype=np.float32)
    brightness, contrast, saturation = rng.uniform(0.75, 1.25, size=3)
    gray = pixels @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    pixels = gray[..., None] + (pixels - gray[..., None]) * saturation
    pixels = (pixels - gray.mean()) * contrast + gray.mean()
    out: np.ndarray = np.clip(pixels * brightness, 0, 255).astype(np.uint8)
    return out


def write_jpegs(directory: str | Path, count: int, size: int = 256, quality: int = 90, seed: int = SEED) -> list[Path]:
    """Write images ``0 .. count-1`` as ``directory/000000.jpg``, ... (Pillow, 4:2:0); return their paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = directory / f"{i:06d}.jpg"
        Image.fromarray(natural_image(i, size, seed)).save(path, format="JPEG", quality=quality)
        paths.append(path)
    return paths


def write_image_folder(
    root: str | Path, count: int, classes: int = 10, size: int = 256, quality: int = 90, seed: int = SEED
) -> list[tuple[str, int]]:
    """Images ``0 .. count-1`` as an ImageFolder tree, ``root/class_LL/IIIIII.jpg`` with label ``i % classes``.

    Returns ``(path relative to root, label)`` per image, in index order.
    """
    root = Path(root)
    out = []
    for i in range(count):
        label = i % classes
        relative = f"class_{label:02d}/{i:06d}.jpg"
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(natural_image(i, size, seed)).save(path, format="JPEG", quality=quality)
        out.append((relative, label))
    return out


def raw_images(count: int, classes: int = 10, side: int = 32, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """A CIFAR-like set: ``count`` raw ``side`` x ``side`` x 3 uint8 images and their int64 labels.

    The pixels are uniform noise: raw samples are never decoded, so their content does not change any timing.
    """
    rng = np.random.default_rng([seed, count])
    images = rng.integers(0, 256, (count, side, side, 3), dtype=np.uint8)
    labels = rng.integers(0, classes, count).astype(np.int64)
    return images, labels
