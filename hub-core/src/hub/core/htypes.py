"""htypes: what a tensor holds, with its default dtype, compression rules and shape rules."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from typing import Any

from hub.errors import TensorMetaError

__all__ = ["HTYPES", "HtypeSpec", "get_htype", "OBJECT_HTYPES", "WRAPPERS"]


@dataclass(frozen=True)
class HtypeSpec:
    """Defaults and rules of one htype."""

    name: str
    dtype: str | None = None
    ndims: tuple[int, ...] | None = None  # allowed sample ndims; None: any (fixed per tensor)
    compression_required: bool = False  # sample_compression or chunk_compression must be named
    kinds: tuple[str, ...] = ("image", "bytes")  # codec kinds allowed as sample_compression
    info: dict[str, Any] = field(default_factory=dict)  # default tensor info
    kwargs: tuple[str, ...] = ()  # create_tensor keyword arguments stored in info
    last_dim: int | None = None  # required size of the last dimension
    wrapper: str | None = None  # "link" or "sequence" for link[...] and sequence[...] htypes
    inner: str | None = None  # the htype a wrapper holds ("image" for "link[image]")


#: htypes whose samples are Python objects, stored as encoded bytes with shape (1,).
OBJECT_HTYPES = frozenset({"text", "json", "list"})

HTYPES: dict[str, HtypeSpec] = {
    spec.name: spec
    for spec in [
        HtypeSpec("generic"),
        HtypeSpec("image", "uint8", (2, 3), compression_required=True, kinds=("image",)),
        HtypeSpec("image.rgb", "uint8", (3,), compression_required=True, kinds=("image",), last_dim=3),
        HtypeSpec("image.gray", "uint8", (2,), compression_required=True, kinds=("image",)),
        HtypeSpec("class_label", "uint32", (1,), info={"class_names": []}, kwargs=("class_names",)),
        HtypeSpec(
            "bbox",
            "float32",
            (2,),
            info={"coords": {}},
            kwargs=("coords",),
            last_dim=4,
        ),
        HtypeSpec("binary_mask", "bool", (2, 3)),
        HtypeSpec("segment_mask", "uint32", (2, 3), info={"class_names": []}, kwargs=("class_names",)),
        HtypeSpec(
            "keypoints_coco",
            "int32",
            (2,),
            info={"keypoints": [], "connections": []},
            kwargs=("keypoints", "connections"),
        ),
        HtypeSpec("point", "int32", (2,)),
        # A list of polygons of (points, dims) each, stored as one ragged record (see hub.core.polygons): no codec
        # applies to it (chunk_compression="lz4" does).
        HtypeSpec("polygon", "float32", (3,), kinds=()),
        # Codec options for arrays appended to media tensors (files from hub.read are stored as they are).
        HtypeSpec(
            "video",
            "uint8",
            (4,),
            compression_required=True,
            kinds=("video",),
            kwargs=("fps", "encoder", "encoder_options"),
            last_dim=3,
        ),
        HtypeSpec(
            "audio", "float32", (2,), compression_required=True, kinds=("audio",), kwargs=("sample_rate", "encoder")
        ),
        HtypeSpec("text", "str", (1,), kinds=("bytes",)),
        HtypeSpec("json", "Any", (1,), kinds=("bytes",)),
        HtypeSpec("list", "List", (1,), kinds=("bytes",)),
    ]
}


#: htypes that wrap another: ``link[image]`` stores references to image files, ``sequence[image]`` lists of images.
WRAPPERS = ("link", "sequence")


def _wrapped(wrapper: str, inner: HtypeSpec, name: str) -> HtypeSpec:
    # The one nesting allowed: a sequence of links (``sequence[link[image]]``), each item a reference to a file.
    nested_ok = wrapper == "sequence" and inner.wrapper == "link"
    if (inner.wrapper is not None and not nested_ok) or inner.name in OBJECT_HTYPES:
        raise TensorMetaError(
            f"htype {name!r}: {wrapper}[...] holds an array htype such as image, video, audio or generic "
            f"(a sequence may also hold links: sequence[link[image]]), not {inner.name!r}."
        )
    if wrapper == "link":
        # A link needs no compression of its own: the linked file's format is read from its header. verify=False
        # (Hub 2.x's create_tensor option) stores links without reading them, so their shapes stay unknown.
        return replace(
            inner,
            name=name,
            compression_required=False,
            info={**inner.info, "verify": True},
            kwargs=(*inner.kwargs, "verify"),
            wrapper="link",
            inner=inner.name,
        )
    ndims = tuple(n + 1 for n in inner.ndims) if inner.ndims is not None else None
    return replace(inner, name=name, ndims=ndims, wrapper="sequence", inner=inner.name)


def get_htype(name: str) -> HtypeSpec:
    """The spec of htype ``name``: a built-in one, or ``link[<htype>]`` / ``sequence[<htype>]`` of one."""
    spec = HTYPES.get(name)
    if spec is not None:
        return spec
    return _wrapped_htype(name)


@functools.lru_cache(maxsize=256)
def _wrapped_htype(name: str) -> HtypeSpec:
    if isinstance(name, str):
        for wrapper in WRAPPERS:
            if name.startswith(wrapper + "[") and name.endswith("]"):
                return _wrapped(wrapper, get_htype(name[len(wrapper) + 1 : -1]), name)
    raise TensorMetaError(
        f"Unknown htype {name!r}. Choose one of: {', '.join(sorted(HTYPES))}, or link[<htype>] / sequence[<htype>] "
        "of one of those."
    )
