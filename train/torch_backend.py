"""The ``.pt`` backend of ``edgelstm.Classifier`` (found through the edgelstm.backends entry point)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .checkpoint import load_model

__all__ = ["TorchBackend"]


class TorchBackend:
    def __init__(self, path: Path, threads: int | None = None) -> None:
        if threads:
            torch.set_num_threads(threads)
        self.model = load_model(path)
        self.config = self.model.config

    @torch.inference_mode()
    def run(self, input_ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        ids, lens = torch.from_numpy(input_ids), torch.from_numpy(lengths)
        return self.model.probabilities(self.model(ids, lens)).numpy()
