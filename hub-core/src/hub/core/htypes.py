"""htypes: what a tensor holds, with its default dtype, compression rules and shape rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hub.errors import TensorMetaError

__all__ = ["HTYPES", "HtypeSpec", "get_htype", "OBJECT_HTYPES"]


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
        HtypeSpec("polygon", "float32", (3,)),
        HtypeSpec("text", "str", (1,), kinds=("bytes",)),
        HtypeSpec("json", "Any", (1,), kinds=("bytes",)),
        HtypeSpec("list", "List", (1,), kinds=("bytes",)),
    ]
}


def get_htype(name: str) -> HtypeSpec:
    try:
        return HTYPES[name]
    except KeyError:
        raise TensorMetaError(f"Unknown htype {name!r}. Choose one of: {', '.join(sorted(HTYPES))}.") from None
