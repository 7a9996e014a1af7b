"""hub-torch registers itself where hub-core looks for it."""

from __future__ import annotations

import torch

import hub_torch
from hub.integrations import load_integration


def test_entry_point_resolves_to_hub_torch() -> None:
    assert load_integration("pytorch") is hub_torch.dataset_to_pytorch
    assert torch.__version__
