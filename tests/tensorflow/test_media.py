"""Video, audio, links and sequences through a real tf.data pipeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import hub
from tests.core.media._make import decode_video, linked_scenes, write_media_dataset


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[Path]]]:
    return write_media_dataset(tmp_path_factory.mktemp("media"), 3)


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


def test_sequences_of_links_through_tf_data(tmp_path: Path) -> None:
    out = linked_scenes(tmp_path).tensorflow()
    assert out.element_spec["scenes"].shape.as_list() == [None, 6, 5, 3]
    assert out.element_spec["scenes"].dtype == tf.uint8
    for i, element in enumerate(out):
        expected = np.stack([np.full((6, 5, 3), 10 * i + j, np.uint8) for j in range(i + 1)])
        np.testing.assert_array_equal(element["scenes"].numpy(), expected)
