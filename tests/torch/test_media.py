"""Video, audio, links and sequences through real PyTorch DataLoaders (worker processes included)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import hub
from tests.core.media._make import decode_video, linked_scenes, write_media_dataset


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> tuple[hub.Dataset, dict[str, list[Path]]]:
    path, files = write_media_dataset(tmp_path_factory.mktemp("media"), 4)
    return hub.load(path, read_only=True), files


@pytest.mark.parametrize(("num_workers", "context"), [(0, None), (2, "spawn")])
def test_media_through_the_loader(
    media: tuple[hub.Dataset, dict[str, list[Path]]], num_workers: int, context: str | None
) -> None:
    ds, files = media
    loader = ds.pytorch(num_workers=num_workers, batch_size=1, multiprocessing_context=context)
    seen = 0
    for batch in loader:
        i = int(batch["index"][0]) if "index" in batch else seen
        assert all(isinstance(batch[k], torch.Tensor) for k in ("video", "audio", "linked"))
        video = batch["video"][0]
        np.testing.assert_array_equal(np.asarray(video), decode_video(files["clips"][i]))
        assert tuple(np.asarray(batch["audio"][0]).shape) == (800 + 100 * i, 2)
        np.testing.assert_array_equal(np.asarray(batch["linked"][0]), np.full((6, 5, 3), 40 * i, np.uint8))
        seq = batch["seq"][0]
        np.testing.assert_array_equal(np.asarray(seq), np.repeat(np.arange(i + 1, dtype=np.int16)[:, None], 3, 1))
        seen += 1
    assert seen == 4
    raw = ds.pytorch(num_workers=0, batch_size=1, decode_method={"video": "tobytes", "linked": "tobytes"})
    first = next(iter(raw))
    assert bytes(first["video"][0]) == files["clips"][0].read_bytes()
    assert bytes(first["linked"][0]) == files["pictures"][0].read_bytes()


@pytest.mark.parametrize("num_workers", [0, 2])
def test_sequences_of_links_through_the_loader(tmp_path: Path, num_workers: int) -> None:
    ds = linked_scenes(tmp_path)
    seen = 0
    for batch in ds.pytorch(num_workers=num_workers, batch_size=1):
        scene = np.asarray(batch["scenes"][0])
        i = scene.shape[0] - 1
        expected = np.stack([np.full((6, 5, 3), 10 * i + j, np.uint8) for j in range(i + 1)])
        np.testing.assert_array_equal(scene, expected)
        seen += 1
    assert seen == 3
