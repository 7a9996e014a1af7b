"""Video, audio, links and sequences through a real tf.data pipeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import hub
from tests.core.media._make import decode_video, moving_frames, tone, write_audio, write_video


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[Path]]]:
    root = tmp_path_factory.mktemp("media")
    clips = [write_video(root / f"c{i}.mp4", moving_frames(8 + i, 16, 16), "mp4") for i in range(3)]
    sounds = [write_audio(root / f"s{i}.wav", tone(800 + 100 * i, 8000), "wav", 8000) for i in range(3)]
    pictures = []
    for i in range(3):
        pictures.append(root / f"p{i}.png")
        Image.fromarray(np.full((6, 5, 3), 40 * i, np.uint8)).save(pictures[-1])
    ds = hub.empty(root / "ds")
    with ds:
        ds.create_tensor("video", htype="video", sample_compression="mp4")
        ds.create_tensor("audio", htype="audio", sample_compression="wav")
        ds.create_tensor("linked", htype="link[image]")
        ds.create_tensor("seq", htype="sequence[generic]", dtype="int16")
        for i in range(3):
            ds.append(
                {
                    "video": hub.read(clips[i]),
                    "audio": hub.read(sounds[i]),
                    "linked": hub.link(pictures[i]),
                    "seq": [np.full(3, j, np.int16) for j in range(i + 1)],
                }
            )
    ds.close()
    return root / "ds", {"clips": clips, "sounds": sounds, "pictures": pictures}


def test_media_through_tf_data(media: tuple[Path, dict[str, list[Path]]]) -> None:
    path, files = media
    ds = hub.load(path, read_only=True)
    out = ds.tensorflow()
    spec = out.element_spec
    assert spec["video"].shape.as_list() == [None, 16, 16, 3] and spec["video"].dtype == tf.uint8
    assert spec["audio"].shape.as_list() == [None, 2]
    assert spec["seq"].shape.as_list() == [None, 3] and spec["seq"].dtype == tf.int16
    seen = 0
    for i, element in enumerate(out):
        np.testing.assert_array_equal(element["video"].numpy(), decode_video(files["clips"][i]))
        np.testing.assert_array_equal(element["audio"].numpy(), ds.audio[i].numpy())
        assert element["audio"].shape == (800 + 100 * i, 2)
        np.testing.assert_array_equal(element["linked"].numpy(), np.full((6, 5, 3), 40 * i, np.uint8))
        np.testing.assert_array_equal(
            element["seq"].numpy(), np.repeat(np.arange(i + 1, dtype=np.int16)[:, None], 3, 1)
        )
        seen += 1
    assert seen == 3
    raw = next(iter(ds.tensorflow(tensors=["video"], tobytes=True)))
    assert bytes(raw[0].numpy()) == files["clips"][0].read_bytes()
