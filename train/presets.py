"""Named training recipes: what ``edgelstm train`` does for each option left unset.

``default``: the recipe for users' own data (README, "Training"): a BiLSTM with max+mean pooling
over a vocabulary chosen from the data (words seen at least twice, at most 25,000), dropout 0.3 and word
dropout 0.25, AdamW with a cosine learning rate, early stopping after 3 epochs without progress.
``keras-imdb``: the classic Keras IMDB example exactly (3,800 words, 32/32, Adam, 20 epochs,
patience 5, constant learning rate), the configuration of edgelstm's first shipped model.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DEFAULT_PRESET", "PRESETS"]

DEFAULT_PRESET = "default"

PRESETS: dict[str, dict[str, Any]] = {
    "default": {
        # model
        "arch": "bilstm", "vocab_size": 25000, "max_len": 500, "embed_dim": 100, "hidden": 64, "dense": 256,
        # training
        "epochs": 10, "batch_size": 64, "val_split": 0.1, "patience": 3, "lr": 1e-3, "min_count": 2,
        "dropout": 0.3, "word_dropout": 0.25, "weight_decay": 0.01, "lr_schedule": "cosine",
    },
    "keras-imdb": {
        "arch": "lstm", "vocab_size": 3800, "max_len": 380, "embed_dim": 32, "hidden": 32, "dense": 256,
        "epochs": 20, "batch_size": 64, "val_split": 0.1, "patience": 5, "lr": 1e-3, "min_count": 1,
        "dropout": None,  # the example's per architecture: DEFAULT_DROPOUT
        "word_dropout": 0.0, "weight_decay": 0.0, "lr_schedule": "constant",
    },
}
