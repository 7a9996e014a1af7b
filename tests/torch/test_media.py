"""Video, audio, links and sequences through real PyTorch DataLoaders (worker processes included)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import hub
from tests.core.media._make import decode_video, moving_frames, tone, write_audio, write_video


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> tuple[hub.Dataset, dict[str, object]]:
    root = tmp_path_factory.mktemp("media")
    clips = [write_video(root / f"c{i}.mp4", moving_frames(8 + i, 16, 16), "mp4") for i in range(4)]
    sounds = [write_audio(root / f"s{i}.wav", tone(800 + 100 * i, 8000), "wav", 8000) for i in range(4)]
    pictures = []
    for i in range(4):
        pictures.append(root / f"p{i}.png")
        Image.fromarray(np.full((6, 5, 3), 40 * i, np.uint8)).save(pictures[-1])
    ds = hub.empty(root / "ds")
    with ds:
        ds.create_tensor("video", htype="video", sample_compression="mp4")
        ds.create_tensor("audio", htype="audio", sample_compression="wav")
        ds.create_tensor("linked", htype="link[image]")
        ds.create_tensor("seq", htype="sequence[generic]", dtype="int16")
        for i in range(4):
            ds.append(
                {
                    "video": hub.read(clips[i]),
                    "audio": hub.read(sounds[i]),
                    "linked": hub.link(pictures[i]),
                    "seq": [np.full(3, j, np.int16) for j in range(i + 1)],
                }
            )
    ds.close()
    return hub.load(root / "ds", read_only=True), {"clips": clips, "sounds": sounds, "pictures": pictures}


@pytest.mark.parametrize(("num_workers", "context"), [(0, None), (2, "spawn")])
def test_media_through_the_loader(
    media: tuple[hub.Dataset, dict[str, object]], num_workers: int, context: str | None
) -> None:
    ds, files = media
    loader = ds.pytorch(num_workers=num_workers, batch_size=1, multiprocessing_context=context)
    seen = 0
    for batch in loader:
        i = int(batch["index"][0]) if "index" in batch else seen
        assert all(isinstance(batch[k], torch.Tensor) for k in ("video", "audio", "linked"))
        video = batch["video"][0]
        np.testing.assert_array_equal(np.asarray(video), decode_video(Path(files["clips"][i])))  # type: ignore[index]
        assert tuple(np.asarray(batch["audio"][0]).shape) == (800 + 100 * i, 2)
        np.testing.assert_array_equal(np.asarray(batch["linked"][0]), np.full((6, 5, 3), 40 * i, np.uint8))
        seq = batch["seq"][0]
        np.testing.assert_array_equal(np.asarray(seq), np.repeat(np.arange(i + 1, dtype=np.int16)[:, None], 3, 1))
        seen += 1
    assert seen == 4
    raw = ds.pytorch(num_workers=0, batch_size=1, decode_method={"video": "tobytes", "linked": "tobytes"})
    first = next(iter(raw))
    assert bytes(first["video"][0]) == Path(files["clips"][0]).read_bytes()  # type: ignore[index]
    assert bytes(first["linked"][0]) == Path(files["pictures"][0]).read_bytes()  # type: ignore[index]
