"""hub-tensorflow registers itself where hub-core looks for it."""

from __future__ import annotations

import tensorflow as tf

import hub_tensorflow
from hub.integrations import load_integration


def test_entry_point_resolves_to_hub_tensorflow() -> None:
    assert load_integration("tensorflow") is hub_tensorflow.dataset_to_tensorflow
    assert tf.constant(1).numpy() == 1
