"""The PyTorch text classifiers: the Keras IMDB example's LSTM (4.1) and BiLSTM (4.2)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from edgelstm.config import BIGRAM_HASH, DEFAULT_DROPOUT, ModelConfig
from edgelstm.tokenizer import PAD_ID

__all__ = ["TextClassifier", "DEFAULT_DROPOUT"]


class TextClassifier(nn.Module):
    """Embedding -> Dropout -> (Bi)LSTM over the real tokens only -> head -> logits.

    ``lstm``: the final hidden state (at each text's last real token) feeds
    Dense(dense, relu) -> Dropout -> Dense(outputs), as in the Keras example.
    ``bilstm``: the example flattens all time steps, which fixes the sequence length; here
    the forward and backward outputs are max- and mean-pooled over the real time steps
    instead, so any length works and padding is never seen: Dropout -> Dense(outputs).
    ``wide`` (config): plus a bag-of-words term, one weight per word and output averaged over
    the real tokens (fastText's linear model beside the LSTM, as in wide-and-deep), trained jointly;
    with ``wide_bigrams``, each pair of neighbouring tokens adds its hashed row too (same divisor).
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        bidirectional = config.arch == "bilstm"
        self.head: nn.Module  # (B, features) -> (B, outputs)
        self.embedding = nn.Embedding(config.vocab_size, config.embed_dim, padding_idx=PAD_ID)
        self.dropout = nn.Dropout(config.dropout)
        self.lstm = nn.LSTM(
            config.embed_dim, config.hidden, batch_first=True, bidirectional=bidirectional
        )
        if bidirectional:
            self.head = nn.Sequential(
                nn.Dropout(config.dropout), nn.Linear(4 * config.hidden, config.num_outputs)
            )
        elif config.dense:
            self.head = nn.Sequential(
                nn.Linear(config.hidden, config.dense),
                nn.ReLU(),
                nn.Dropout(config.dropout),
                nn.Linear(config.dense, config.num_outputs),
            )
        else:
            self.head = nn.Linear(config.hidden, config.num_outputs)
        # zeros: the model starts as the LSTM alone and the term grows where words tell labels apart
        # rows: the words', then wide_bigrams hashed pairs'
        rows = config.vocab_size + config.wide_bigrams
        self.wide = nn.Embedding(rows, config.num_outputs, padding_idx=PAD_ID) if config.wide else None
        if self.wide is not None:
            nn.init.zeros_(self.wide.weight)
        self._init_like_keras()

    @torch.no_grad()
    def _init_like_keras(self) -> None:
        """Keras' initializers, which the example's accuracy was reached with: small uniform
        embeddings, Glorot kernels, orthogonal recurrent weights, forget-gate bias 1."""
        nn.init.uniform_(self.embedding.weight, -0.05, 0.05)
        self.embedding.weight[PAD_ID].zero_()
        for name, weight in self.lstm.named_parameters():
            gates = weight.view(4, self.config.hidden, *weight.shape[1:])  # (i, f, g, o) gates
            if name.startswith("weight_ih"):
                nn.init.xavier_uniform_(weight)
            elif name.startswith("weight_hh"):
                for gate in gates:
                    nn.init.orthogonal_(gate)
            elif name.startswith("bias_ih"):
                weight.zero_()
                gates[1].fill_(1.0)  # Keras' unit_forget_bias
            else:  # bias_hh: Keras has one bias per gate, so this one starts at zero
                weight.zero_()
        for layer in self.head.modules():
            if isinstance(layer, nn.Linear):
                nn.init.xavier_uniform_(layer.weight)
                nn.init.zeros_(layer.bias)

    def wide_logits(self, input_ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, T) ids and (B,) real lengths -> (B, outputs): the wide term (zeros without one)."""
        if self.wide is None:
            return torch.zeros((), device=input_ids.device)
        lengths = lengths.to(input_ids.device)
        real = torch.arange(input_ids.shape[1], device=input_ids.device)[None, :] < lengths[:, None]  # (B, T)
        weights: torch.Tensor = self.wide(input_ids).masked_fill(~real[:, :, None], 0.0)  # (B, T, outputs)
        total = weights.sum(dim=1)
        if self.config.wide_bigrams:  # pair (t-1, t) for t >= 1: real when t is
            buckets = self.config.wide_bigrams
            rows = (input_ids[:, :-1] % buckets * BIGRAM_HASH + input_ids[:, 1:]) % buckets
            pairs = self.wide(rows + self.config.vocab_size).masked_fill(~real[:, 1:, None], 0.0)
            total = total + pairs.sum(dim=1)
        return total / lengths.to(weights.dtype)[:, None]

    def forward(
        self, input_ids: torch.Tensor, lengths: torch.Tensor,
        state: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """(B, T) ids and (B,) real lengths -> (B, outputs) logits.

        ``state``: the lstm's (h, c), each (B, H), before the first step (default zeros).
        """
        return self.forward_with_state(input_ids, lengths, state)[0]

    def forward_with_state(
        self, input_ids: torch.Tensor, lengths: torch.Tensor,
        state: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Logits and the last layer's (h, c), each (B, H), at each text's last real token."""
        x = self.dropout(self.embedding(input_ids))  # (B, T, E)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        initial = None if state is None else (state[0][None], state[1][None])  # (1, B, H) each
        output, (h_n, c_n) = self.lstm(packed, initial)  # (D, B, H), at each text's last real token
        wide = self.wide_logits(input_ids, lengths)  # (B, outputs), or 0
        if self.config.arch == "lstm":
            return self.head(h_n[-1]) + wide, (h_n[-1], c_n[-1])  # (B, H) -> (B, outputs)
        y, _ = pad_packed_sequence(output, batch_first=True, total_length=input_ids.shape[1])
        # y: (B, T, 2H), forward then backward; zero at padded steps
        mask = torch.arange(y.shape[1], device=y.device)[None, :] < lengths.to(y.device)[:, None]
        largest = y.masked_fill(~mask[:, :, None], float("-inf")).amax(dim=1)  # (B, 2H)
        mean = y.sum(dim=1) / lengths.to(y.device, y.dtype)[:, None]  # (B, 2H)
        features = torch.cat([largest, mean], dim=1)  # (B, 4H)
        return self.head(features) + wide, (h_n[-1], c_n[-1])  # (B, outputs)

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """(B, outputs) logits -> (B, labels) probabilities, columns in label order."""
        if self.config.num_outputs == 1:
            positive = torch.sigmoid(logits)  # (B, 1): the probability of labels[1]
            return torch.cat([1 - positive, positive], dim=1)
        return torch.softmax(logits, dim=1)

    def loss(self, logits: torch.Tensor, targets: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
        """Binary cross-entropy for two labels, cross-entropy for more. ``targets``: (B,) label
        ids, or (B, L) label probabilities (a teacher's, for distillation). ``reduction="none"``:
        (B,) per text."""
        if targets.ndim == 2:
            if self.config.num_outputs == 1:
                return nn.functional.binary_cross_entropy_with_logits(logits[:, 0], targets[:, 1], reduction=reduction)
            return nn.functional.cross_entropy(logits, targets, reduction=reduction)
        if self.config.num_outputs == 1:
            return nn.functional.binary_cross_entropy_with_logits(
                logits[:, 0], targets.to(logits.dtype), reduction=reduction
            )
        return nn.functional.cross_entropy(logits, targets, reduction=reduction)
