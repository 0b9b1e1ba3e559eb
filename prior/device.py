"""Where torch work runs: the one "CUDA when there is a GPU, else the CPU" rule of the project.

Training, sampling, the encoders and the benchmarks all call :func:`pick_device`, so a ``device`` option means the
same thing everywhere and a change of rule (say, Apple's ``mps``) is made once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` if given, else ``cuda`` when a GPU is visible, else ``cpu``."""
    import torch  # here, so that importing this module stays cheap for callers that never use torch

    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
