"""Perturbed copies of training texts, for a student to learn its teachers' answers on.

A student of teachers (``TrainOptions.ensemble_teachers``) learns their mean probabilities on the
training texts. Distilling into a small BiLSTM gains from more texts to learn them on (Tang et al.
2019 sampled phrases of the training texts and masked words, for their teacher to label); here
each copy is, by chance, either a phrase of the text (1 to ``MAX_SPAN`` words, shorter than the
text) or the text with words masked (each with ``MASK_SHARE``, at least one). The copies go in
as unlabeled texts (``train(unlabeled=...)``) with the teachers as their labelers. Measured as
the twenty-first round of docs/recipe-rounds.md (``benchmarks/blend.py --augment-too``).

Torch-free: words-v1 and numpy only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edgelstm.tokenizer import words

__all__ = ["MASK_SHARE", "MASK_WORD", "MAX_SPAN", "SPAN_SHARE", "perturbed_copies"]

# a word no vocabulary holds (words-v1 keeps it whole): the model reads it as the unknown id
MASK_WORD = "xxmaskxx"
SPAN_SHARE = 0.25  # the share of copies that are a phrase of the text; the others are masked
MASK_SHARE = 0.1  # each word of a masked copy is masked with this probability (at least one is)
MAX_SPAN = 5  # a phrase copy has 1 to this many words (fewer than the text)


def perturbed_copies(texts: Sequence[str], copies: int = 1, seed: int = 0) -> list[str]:
    """``copies`` perturbed copies of each text of at least two words (shorter ones have no
    phrase or mask that keeps a word), as words-v1 words joined by spaces, in the texts' order.
    Deterministic: the same texts, count and seed give the same copies."""
    rng = np.random.default_rng(seed)
    out: list[str] = []
    for text in texts:
        tokens = words(text)
        if len(tokens) < 2:
            continue
        for _ in range(copies):
            if rng.random() < SPAN_SHARE:
                n = int(rng.integers(1, min(MAX_SPAN, len(tokens) - 1) + 1))
                start = int(rng.integers(0, len(tokens) - n + 1))
                kept = tokens[start : start + n]
            else:
                masked = rng.random(len(tokens)) < MASK_SHARE
                if not masked.any():
                    masked[int(rng.integers(len(tokens)))] = True
                kept = [MASK_WORD if mask else token for token, mask in zip(tokens, masked)]
            out.append(" ".join(kept))
    return out
