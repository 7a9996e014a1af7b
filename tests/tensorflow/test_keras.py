"""A Keras model trains on ds.tensorflow() as it would on any tf.data pipeline."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

import hub


def test_model_fit_runs_a_few_steps(image_ds: hub.Dataset) -> None:
    tf.keras.utils.set_random_seed(0)
    train = (
        image_ds.tensorflow(tensors=["images", "labels"], shuffle=True, seed=0)
        .map(lambda x, y: (tf.cast(x, tf.float32) / 255.0, y[0]))
        .batch(12)
        .prefetch(tf.data.AUTOTUNE)
    )
    model = tf.keras.Sequential(
        [
            tf.keras.Input((16, 16, 3)),
            tf.keras.layers.Conv2D(4, 3, activation="relu"),
            tf.keras.layers.GlobalAveragePooling2D(),
            tf.keras.layers.Dense(5),
        ]
    )
    model.compile("adam", tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(train, epochs=2, shuffle=False, verbose=0)  # the pipeline shuffles
    losses = history.history["loss"]
    assert len(losses) == 2 and all(np.isfinite(losses))
    predictions = model.predict(train.map(lambda x, y: x), verbose=0)
    assert predictions.shape == (60, 5)
