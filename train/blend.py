"""The trained model blended with the fitted linear model, folded into the same graph.

After early stopping, a model with the wide term is blended in logit space with the linear model
of linear.py (fitted alone on the training split, its L2 and bigrams chosen on validation):
``(1 - a) * model + a * linear``, ``a`` from ``BLEND_GRID`` by validation log-loss (ties: the
smaller ``a``, nearest the trained model). Both terms read the same features, so the blend is the
same graph with other weights, no new node: the head's last Linear times ``1 - a``, the wide table
``(1 - a) * joint + a * fitted`` (the joint table padded with zero pair rows when the fit chose
bigrams and the model had none: its ``wide_bigrams`` then says so), the output bias plus ``a``
times the fitted bias. Measured against seed spread before it became the default:
docs/recipe-rounds.md, the sixth round (benchmarks/blend.py).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import torch

from edgelstm.tokenizer import PAD_ID

if TYPE_CHECKING:
    from .linear import WideFit
    from .model import TextClassifier

__all__ = ["BLEND_GRID", "choose_a", "fold", "log_loss"]

# the blend weights tried; log-loss rather than accuracy chooses (an accuracy plateau over a few
# hundred validation texts moves by a text or two; log-loss is smooth)
BLEND_GRID = tuple(round(0.1 * i, 1) for i in range(11))


def log_loss(logits: np.ndarray, targets: np.ndarray) -> float:
    """Mean cross-entropy of (N, outputs) logits (one output: binary) against (N,) label ids."""
    if logits.shape[1] == 1:
        z = logits[:, 0]
        return float(np.mean(np.logaddexp(0, z) - targets * z))
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(targets)), targets].mean())


def choose_a(deep: np.ndarray, wide: np.ndarray, targets: np.ndarray) -> tuple[float, dict[str, float]]:
    """The grid's ``a`` whose blend of ``deep`` and ``wide`` logits has the lowest log-loss on
    ``targets`` (ties: the smallest), and each ``a``'s log-loss."""
    losses = {f"{a:.1f}": log_loss((1 - a) * deep + a * wide, targets) for a in BLEND_GRID}
    best = min(BLEND_GRID, key=lambda a: (round(losses[f"{a:.1f}"], 12), a))
    return best, {key: round(value, 6) for key, value in losses.items()}


@torch.no_grad()
def fold(model: TextClassifier, fitted: WideFit, a: float) -> None:
    """Make ``model``'s logits ``(1 - a) * its own + a * fitted``'s, in place; a = 0 changes
    nothing. ``fitted``'s bigram rows are the model's, or the model has none (they are added); a
    model without a wide term gets one (its joint part zero)."""
    if fitted.norm != "mean":  # the graph's term divides by the token count (linear.py's norm="l2" does not)
        raise ValueError(f"a fit with norm {fitted.norm!r} has no place in the graph; only 'mean' folds")
    if a == 0:
        return
    config = model.config
    if config.wide_bigrams and fitted.bigrams != config.wide_bigrams:
        raise ValueError(f"the fitted term has {fitted.bigrams} bigram rows, the model {config.wide_bigrams}")
    last = [layer for layer in model.head.modules() if isinstance(layer, torch.nn.Linear)][-1]
    last.weight.mul_(1 - a)
    last.bias.mul_(1 - a).add_(a * fitted.bias.to(last.bias.dtype))
    # a model without the term (a BiLSTM on long texts): its joint part is zero
    joint = model.wide.weight if model.wide is not None else last.weight.new_zeros((config.vocab_size,
                                                                                    config.num_outputs))
    table = torch.zeros((config.vocab_size + fitted.bigrams, joint.shape[1]), dtype=joint.dtype, device=joint.device)
    table[: joint.shape[0]] = (1 - a) * joint
    table += a * fitted.table.to(joint.dtype).to(joint.device)
    if model.wide is None or table.shape[0] != joint.shape[0]:  # the term, or the fit's bigram rows, added
        trainable = model.wide is None or joint.requires_grad
        model.config = replace(config, wide=True, wide_bigrams=fitted.bigrams)
        model.wide = torch.nn.Embedding(table.shape[0], joint.shape[1], padding_idx=PAD_ID).to(joint.device)
        model.wide.weight.requires_grad_(trainable)
    model.wide.weight.copy_(table)
