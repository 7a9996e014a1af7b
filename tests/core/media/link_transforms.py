"""A transform that appends links: at module level, so worker processes can import it."""

from __future__ import annotations

from typing import Any

import hub


@hub.compute
def link_objects(name: Any, samples_out: Any, bucket: str) -> None:
    samples_out.images.append(hub.link(f"s3://{bucket}/raw/{name}", creds_key="lake"))
