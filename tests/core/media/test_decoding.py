"""The decoder registry is the one decode path: tensor views (and loaders) go through decoder_for."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import hub
from hub.core import decoding
from hub.core.decoding import TextDecoder, decoder_for, htype_family, register_decoder
from hub.core.samples import decode_sample
from tests.core.media._make import mem_url


def test_families() -> None:
    assert htype_family("image") == htype_family("video") == htype_family("generic") == "array"
    assert htype_family("link[video]") == "link" and htype_family("sequence[image]") == "sequence"
    assert htype_family("text") == "text"


def test_a_registered_decoder_is_what_views_and_decode_sample_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decoding, "_DECODERS", dict(decoding._DECODERS))

    class Shouting(TextDecoder):
        def decode(self, data: Any, shape: tuple[int, ...], subscript: tuple[Any, ...] = ()) -> Any:
            return str(super().decode(data, shape, subscript)).upper()

    register_decoder("text", Shouting)
    ds = hub.empty(mem_url())
    ds.create_tensor("words", htype="text")
    ds.words.append("hello")
    assert ds.words[0].text() == "HELLO"
    assert isinstance(decoder_for(ds.words.meta), Shouting)
    assert decode_sample(ds.words.meta, b"quiet", (1,)) == "QUIET"


def test_decode_sample_takes_a_subscript() -> None:
    ds = hub.empty(mem_url())
    ds.create_tensor("seq", htype="sequence[generic]", dtype="int16")
    ds.seq.append([np.arange(4, dtype=np.int16), np.arange(6, dtype=np.int16)])
    data, shape = ds.seq._engine.read(np.asarray([0]))[0]
    np.testing.assert_array_equal(decode_sample(ds.seq.meta, data, shape, (1, slice(2, 5))), [2, 3, 4])
