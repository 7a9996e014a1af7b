"""Stored samples back to values: one decoder per htype family, found through a registry.

``decoder_for(meta, links)`` is the one decode path every reader uses (tensor views, loaders): it picks the decoder
of the tensor's htype family (``text``, ``json``/``list``, ``link``, ``sequence``, ``polygon``, or arrays), and
array decoding goes through the compression's codec, which may decode only part of a sample (the frames a
subscript picks).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np

from hub.core.htypes import get_htype
from hub.core.links import LinkResolver, parse_link_record
from hub.core.meta import TensorMeta
from hub.core.polygons import pick_polygons
from hub.core.sequences import unpack_sequence
from hub.errors import DatasetIndexError, LinkedSampleError, TensorMetaError

__all__ = ["SampleDecoder", "ArrayDecoder", "PolygonDecoder", "decoder_for", "register_decoder", "htype_family"]

Data = bytes | memoryview


def _codec(name: str | None) -> Any:
    if name is None:
        return None
    from hub.compression import get_codec

    return get_codec(name)


class SampleDecoder:
    """Turns one stored sample (bytes and recorded shape) of a tensor into its value, its file bytes or its info."""

    def __init__(self, meta: TensorMeta, links: LinkResolver | None = None) -> None:
        self.meta = meta
        self.links = links if links is not None else LinkResolver()

    def decode(self, data: Data, shape: tuple[int, ...], subscript: tuple[Any, ...] = ()) -> Any:
        """The value of the sample, ``[subscript]`` of it if given."""
        raise NotImplementedError

    def file_bytes(self, data: Data, shape: tuple[int, ...], subscript: tuple[Any, ...] = ()) -> bytes:
        """The bytes of the file the sample is (for an image, the encoded file as stored)."""
        return bytes(data)

    def sample_info(self, data: Data, shape: tuple[int, ...], subscript: tuple[Any, ...] = ()) -> Any:
        """What the sample's file says about itself; see ``Codec.sample_info``."""
        return {"shape": list(shape), "dtype": self.meta.dtype}

    def timestamps(self, data: Data, shape: tuple[int, ...], subscript: tuple[Any, ...] = ()) -> Any:
        raise TensorMetaError(f"Timestamps exist for video samples; this is a {self.meta.htype} tensor.")


class TextDecoder(SampleDecoder):
    """``text``: UTF-8."""

    def decode(self, data: Data, shape: tuple[int, ...], subscript: tuple[Any, ...] = ()) -> Any:
        return bytes(data).decode("utf-8")


class JsonDecoder(SampleDecoder):
    """``json`` and ``list``: JSON in UTF-8."""

    def decode(self, data: Data, shape: tuple[int, ...], subscript: tuple[Any, ...] = ()) -> Any:
        return json.loads(bytes(data))


class ArrayDecoder(SampleDecoder):
    """Arrays: raw bytes in the tensor's dtype, or a file in the tensor's sample compression."""

    def payload(self, data: Data) -> tuple[Data, Any]:
        """The file bytes to decode and the codec to decode them with (None: raw array bytes)."""
        return data, _codec(self.meta.sample_compression)

    def decode(self, data: Data, shape: tuple[int, ...], subscript: tuple[Any, ...] = ()) -> Any:
        payload, codec = self.payload(data)
        if codec is None:
            array = np.frombuffer(payload, dtype=self.meta.dtype or "uint8").reshape(shape)
            return array[subscript] if subscript else array
        return codec.decode_subscript(payload, subscript, shape=shape, dtype=self.meta.dtype)

    def file_bytes(self, data: Data, shape: tuple[int, ...], subscript: tuple[Any, ...] = ()) -> bytes:
        return bytes(self.payload(data)[0])

    def sample_info(self, data: Data, shape: tuple[int, ...], subscript: tuple[Any, ...] = ()) -> Any:
        payload, codec = self.payload(data)
        if codec is None:
            return super().sample_info(data, shape)
        info: dict[str, Any] = codec.sample_info(payload)
        return info

    def timestamps(self, data: Data, shape: tuple[int, ...], subscript: tuple[Any, ...] = ()) -> Any:
        from hub.compression import VideoCodec

        payload, codec = self.payload(data)
        if not isinstance(codec, VideoCodec):
            return super().timestamps(data, shape)
        stamps = codec.timestamps(payload)
        return stamps[subscript[0]] if subscript else stamps


class LinkDecoder(ArrayDecoder):
    """``link[...]``: the stored record names a file, fetched on access and decoded by its own format."""

    def payload(self, data: Data) -> tuple[Data, Any]:
        from hub.compression import get_codec, sniff_compression

        url, stored_key = parse_link_record(data)
        payload = self.links.fetch(url, self.links.name_of(stored_key))
        name = self.meta.sample_compression or sniff_compression(payload)
        if name is None:
            raise LinkedSampleError(
                f"Can't tell the format of the linked file {url!r} from its header; create the tensor with "
                "sample_compression=... naming it."
            )
        return payload, get_codec(name)

    def sample_info(self, data: Data, shape: tuple[int, ...], subscript: tuple[Any, ...] = ()) -> Any:
        url, stored_key = parse_link_record(data)
        return {**super().sample_info(data, shape), "url": url, "creds_key": self.links.name_of(stored_key)}

    def decode(self, data: Data, shape: tuple[int, ...], subscript: tuple[Any, ...] = ()) -> Any:
        payload, codec = self.payload(data)
        # A link stored without reading its file (verify=False) has an all-zero shape: no hint to check against.
        hint = shape if any(shape) else None
        return codec.decode_subscript(payload, subscript, shape=hint, dtype=self.meta.dtype)


class SequenceDecoder(SampleDecoder):
    """``sequence[...]``: a record of items, each decoded by the inner htype's decoder; ``[j]`` picks items."""

    def __init__(self, meta: TensorMeta, links: LinkResolver | None = None) -> None:
        super().__init__(meta, links)
        item_meta = TensorMeta(
            id=meta.id,
            htype=get_htype(meta.htype).inner or "generic",
            dtype=meta.dtype,
            sample_compression=meta.sample_compression,
            ndim=None if meta.ndim is None else meta.ndim - 1,
            info=meta.info,
        )
        self.item = decoder_for(item_meta, self.links)

    def _pick(self, data: Data, subscript: tuple[Any, ...]) -> tuple[list[tuple[int, Any]], bool, tuple[Any, ...]]:
        """The items ``subscript[0]`` selects (with their positions), whether it selected one item, and the rest of
        the subscript."""
        items = unpack_sequence(data)
        n = len(items)
        first = subscript[0] if subscript else slice(None)
        if isinstance(first, (int, np.integer)):
            if not -n <= int(first) < n:
                raise DatasetIndexError(f"Item {int(first)} is out of range for a sequence of {n} items.")
            j = int(first) % n
            return [(j, items[j])], True, subscript[1:]
        if isinstance(first, slice):
            return [(j, items[j]) for j in range(n)[first]], False, subscript[1:]
        try:
            picks = [int(i) for i in np.arange(n)[np.asarray(first).reshape(-1)]]
        except (IndexError, ValueError, TypeError) as e:
            raise DatasetIndexError(f"Can't pick sequence items with {first!r}: {e}") from None
        return [(j, items[j]) for j in picks], False, subscript[1:]

    def decode(self, data: Data, shape: tuple[int, ...], subscript: tuple[Any, ...] = ()) -> Any:
        items, one, rest = self._pick(data, subscript)
        values = [_item(j, self.item.decode, d, s, rest) for j, (d, s) in items]
        if one:
            return values[0]
        if values and all(isinstance(v, np.ndarray) and v.shape == values[0].shape for v in values):
            return np.stack(values)
        if not values:
            return np.zeros((0, *shape[1:]), dtype=self.meta.dtype or "uint8")
        return values

    def _each(self, data: Data, subscript: tuple[Any, ...], what: Callable[..., Any]) -> Any:
        items, one, _ = self._pick(data, subscript)
        values = [_item(j, what, d, s) for j, (d, s) in items]
        return values[0] if one else values

    def file_bytes(self, data: Data, shape: tuple[int, ...], subscript: tuple[Any, ...] = ()) -> bytes:
        items, one, _ = self._pick(data, subscript)
        if not one:
            raise DatasetIndexError("tobytes() of a sequence reads one item: ds.seq[i][j].tobytes().")
        j, (item, item_shape) = items[0]
        return bytes(_item(j, self.item.file_bytes, item, item_shape))

    def sample_info(self, data: Data, shape: tuple[int, ...], subscript: tuple[Any, ...] = ()) -> Any:
        return self._each(data, subscript, self.item.sample_info)

    def timestamps(self, data: Data, shape: tuple[int, ...], subscript: tuple[Any, ...] = ()) -> Any:
        return self._each(data, subscript, self.item.timestamps)


def _item(j: int, what: Callable[..., Any], *args: Any) -> Any:
    """``what(*args)`` for item ``j`` of a sequence; a failing link's error names the item."""
    try:
        return what(*args)
    except LinkedSampleError as e:
        raise LinkedSampleError(f"item {j}: {e}") from e


class PolygonDecoder(SampleDecoder):
    """``polygon`` (ragged records, format 1.3): a list of (points, dims) arrays; ``[j]`` picks polygons."""

    def decode(self, data: Data, shape: tuple[int, ...], subscript: tuple[Any, ...] = ()) -> Any:
        return pick_polygons(data, np.dtype(self.meta.dtype or "float32"), subscript)


_DECODERS: dict[str, type[SampleDecoder]] = {
    "array": ArrayDecoder,
    "text": TextDecoder,
    "json": JsonDecoder,
    "list": JsonDecoder,
    "link": LinkDecoder,
    "sequence": SequenceDecoder,
    "polygon": PolygonDecoder,
}


def htype_family(htype: str) -> str:
    """The registry key of an htype: its wrapper (``link``, ``sequence``), ``text``/``json``/``list``, or ``array``."""
    spec = get_htype(htype)
    if spec.wrapper is not None:
        return spec.wrapper
    return htype if htype in _DECODERS else "array"


def register_decoder(family: str, cls: type[SampleDecoder]) -> None:
    """Decode the samples of htype ``family`` with ``cls`` (replacing the built-in decoder of that family)."""
    _DECODERS[family] = cls


def decoder_for(meta: TensorMeta, links: LinkResolver | None = None) -> SampleDecoder:
    """The decoder of a tensor's samples; ``links`` fetches linked files with the dataset's populated credentials."""
    family = htype_family(meta.htype)
    if family == "polygon" and meta.layout is None:
        family = "array"  # a polygon tensor of format 1.2: (polygons, points, dims) arrays
    return _DECODERS[family](meta, links)
