"""Stage 1 of the fitted wide term: the wide table and the head's output bias fitted alone, as an
L2-regularized logistic regression (binary, or multinomial) on the training split.

The features are exactly what the graph computes (export/graph.py ``_wide_term``,
``TextClassifier.wide_logits``): each real token's row, plus with ``bigrams`` each neighbouring
pair's hashed row, summed and divided by the text's token count (after the ``max_len`` cut,
which the encoded sequences already have). The problem is convex: full-batch L-BFGS in float64
reaches its optimum in seconds, where the wide term trained jointly with the LSTM (Adam, dropout,
early stopping after a few epochs) stops far from it. The L2 strength and bigrams on/off are
chosen by validation accuracy, as the baselines choose C.

With ``idf`` each feature column is first scaled by its inverse document frequency over the
training texts (scikit-learn's smoothed idf), as TF-IDF does: the penalty then weighs a rare
word's weight less than a common one's. The fitted weights times the idf are the graph's table,
so the graph is the same either way.

With ``norm="l2"`` (measured in the fourteenth round, docs/recipe-rounds.md; no graph computes it)
each text's idf-weighted row is divided by the square root of its occurrences' summed squared
idf instead of by its token count, as TF-IDF's L2 normalization does (the same where no word
repeats): ``WideFit.idf_values`` then holds each row's idf for that norm.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from edgelstm.config import BIGRAM_HASH

__all__ = ["L2_GRID", "IDF_L2_GRID", "L2NORM_L2_GRID", "BIGRAM_ROWS", "WideFit", "choose_wide", "fit_wide", "idf_of",
           "wide_features"]

log = logging.getLogger(__name__)

# L2 strengths tried (the penalty is l2 / 2 * the table's squared norm, beside the mean loss per text)
L2_GRID = (3e-7, 1e-6, 3e-6, 1e-5, 3e-5)
# ... on idf-scaled features: their columns grow by the idf (1 to ~10), so the optimum moves up
IDF_L2_GRID = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3)
# ... on L2-normed rows (norm "l2"): a one- or two-word text's row is several times smaller than
# its mean-normed one, and MPQA's fit chose the idf grid's weakest 1e-5, so two weaker ones too
L2NORM_L2_GRID = (1e-6, 3e-6, *IDF_L2_GRID)
# hashed rows for neighbouring pairs when bigrams are tried (ModelConfig.wide_bigrams' limit)
BIGRAM_ROWS = 65536
MAX_ITERATIONS = 300


@dataclass
class WideFit:
    """A fitted wide term: (rows, outputs) table, (outputs,) bias, and how it was chosen."""

    table: torch.Tensor
    bias: torch.Tensor
    l2: float
    bigrams: int
    val_accuracy: float
    idf: bool = False  # fitted on idf-scaled features (the table has the idf folded in)
    scores: dict[str, float] = field(default_factory=dict)  # score_key(...) -> validation accuracy
    norm: str = "mean"  # each text's row divided by its token count, or "l2" (see the module)
    idf_values: torch.Tensor | None = None  # (rows,) with norm "l2": each row's idf

    @staticmethod
    def score_key(l2: float, bigrams: int, idf: bool) -> str:
        return f"{l2:g} {bigrams} {'idf' if idf else 'plain'}"

    def logits(self, sequences: Sequence[Sequence[int]], vocab_size: int) -> np.ndarray:
        """(N, outputs) float64 logits of the fitted term alone on id ``sequences``."""
        features = wide_features(sequences, vocab_size, self.bigrams)  # (N, rows)
        if self.norm == "l2":
            assert self.idf_values is not None, "an l2-normed fit keeps its idf"
            features = _l2_normed(features, self.idf_values, sequences)
        return np.asarray((torch.sparse.mm(features, self.table) + self.bias).numpy())


def wide_features(sequences: Sequence[Sequence[int]], vocab_size: int, bigrams: int = 0) -> torch.Tensor:
    """(N, vocab_size + bigrams) sparse float64: row i holds the graph's wide-term weights of text i
    (1 / its length per token, and per hashed pair with ``bigrams``); an empty text's row is empty."""
    rows: list[np.ndarray] = []
    columns: list[np.ndarray] = []
    values: list[np.ndarray] = []
    for i, sequence in enumerate(sequences):
        ids = np.asarray(sequence, np.int64)
        if not len(ids):
            continue
        keys = ids
        if bigrams and len(ids) > 1:
            pairs = (ids[:-1] % bigrams * BIGRAM_HASH + ids[1:]) % bigrams + vocab_size
            keys = np.concatenate([ids, pairs])
        rows.append(np.full(len(keys), i, np.int64))
        columns.append(keys)
        values.append(np.full(len(keys), 1.0 / len(ids)))
    if not rows:
        return torch.sparse_coo_tensor(torch.zeros((2, 0), dtype=torch.int64), torch.zeros(0, dtype=torch.float64),
                                       (len(sequences), vocab_size + bigrams), check_invariants=False).coalesce()
    indices = torch.from_numpy(np.stack([np.concatenate(rows), np.concatenate(columns)]))
    # coalesce sums repeated tokens: a word twice in a text weighs 2 / length, as in the graph
    return torch.sparse_coo_tensor(indices, torch.from_numpy(np.concatenate(values)),
                                   (len(sequences), vocab_size + bigrams), check_invariants=False).coalesce()


def idf_of(features: torch.Tensor) -> torch.Tensor:
    """(columns,) float64 smoothed inverse document frequency of each column of coalesced
    ``features`` (texts by rows): ln((1 + N) / (1 + df)) + 1, df the texts holding the column."""
    n_texts, n_columns = features.shape
    df = torch.bincount(features.indices()[1], minlength=n_columns).to(torch.float64)  # (columns,)
    return torch.log((1.0 + n_texts) / (1.0 + df)) + 1.0


def _scaled(features: torch.Tensor, column_scale: torch.Tensor) -> torch.Tensor:
    indices = features.indices()
    return torch.sparse_coo_tensor(indices, features.values() * column_scale[indices[1]], features.shape,
                                   check_invariants=False).coalesce()


def _l2_normed(features: torch.Tensor, idf: torch.Tensor, sequences: Sequence[Sequence[int]]) -> torch.Tensor:
    """``features`` (1 / length per occurrence) with each text's row times its length divided by
    sqrt(sum of its occurrences' idf ** 2): the count per column over that norm, unscaled by idf
    (the fit scales columns by idf as for the mean norm)."""
    indices, values = features.indices(), features.values()
    lengths = torch.tensor([max(len(s), 1) for s in sequences], dtype=torch.float64)  # (N,)
    counts = values * lengths[indices[0]]  # each column's occurrences in its text
    squared = torch.zeros(features.shape[0], dtype=torch.float64).index_add_(
        0, indices[0], counts * idf[indices[1]] ** 2)  # (N,) summed over occurrences
    scale = torch.where(squared > 0, squared.rsqrt(), torch.zeros_like(squared))
    return torch.sparse_coo_tensor(indices, counts * scale[indices[0]], features.shape,
                                   check_invariants=False).coalesce()


def _loss(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    """Mean (weighted) binary cross-entropy for one output, cross-entropy for more: the model's loss.
    ``targets``: (N,) label ids or (N, L) probabilities."""
    if logits.shape[1] == 1:
        positive = targets[:, 1] if targets.ndim == 2 else targets.to(logits.dtype)
        per_text = torch.nn.functional.binary_cross_entropy_with_logits(logits[:, 0], positive, reduction="none")
    else:
        per_text = torch.nn.functional.cross_entropy(logits, targets, reduction="none")
    if weights is None:
        return per_text.mean()
    return (per_text * weights).sum() / weights.sum()


def fit_wide(features: torch.Tensor, targets: torch.Tensor, outputs: int, l2: float,
             weights: torch.Tensor | None = None,
             start: tuple[torch.Tensor, torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The (columns, outputs) table and (outputs,) bias minimizing the mean loss plus l2 / 2 *
    ||table||^2 (the bias is not penalized), by full-batch L-BFGS from ``start`` (default zero;
    a stronger L2's optimum shortens the path to a weaker one's); float64."""
    if start is None:
        start = (torch.zeros((features.shape[1], outputs), dtype=torch.float64),
                 torch.zeros(outputs, dtype=torch.float64))
    table = start[0].clone().requires_grad_(True)
    bias = start[1].clone().requires_grad_(True)
    if targets.ndim == 2:
        targets = targets.to(torch.float64)
    # CSR products, the table's gradient by hand (X^T dlogits): 8x faster than autograd through
    # a COO sparse.mm, which is most of a fit's time
    with warnings.catch_warnings():  # "CSR support is in beta": products are all this uses of it
        warnings.filterwarnings("ignore", "Sparse CSR tensor support is in beta", UserWarning)
        rows = features.to_sparse_csr()
        columns = features.t().coalesce().to_sparse_csr()
    optimizer = torch.optim.LBFGS([table, bias], lr=1.0, max_iter=MAX_ITERATIONS, history_size=20,
                                  tolerance_grad=1e-7, tolerance_change=1e-12, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        logits = (rows @ table.detach() + bias.detach()).requires_grad_(True)
        loss = _loss(logits, targets, weights)
        (slope,) = torch.autograd.grad(loss, logits)  # (N, outputs)
        with torch.no_grad():
            table.grad = columns @ slope + l2 * table
            bias.grad = slope.sum(dim=0)
            return loss.detach() + 0.5 * l2 * (table * table).sum()

    optimizer.step(closure)  # type: ignore[no-untyped-call]
    return table.detach(), bias.detach()


def _accuracy(features: torch.Tensor, labels: torch.Tensor, table: torch.Tensor, bias: torch.Tensor) -> float:
    logits = torch.sparse.mm(features, table) + bias  # (N, outputs)
    predicted = (logits[:, 0] > 0).long() if logits.shape[1] == 1 else logits.argmax(dim=1)
    return float((predicted == labels).double().mean())


def choose_wide(train_sequences: Sequence[Sequence[int]], train_targets: np.ndarray,
                val_sequences: Sequence[Sequence[int]], val_labels: np.ndarray, vocab_size: int, outputs: int,
                *, soft_targets: np.ndarray | None = None, weights: np.ndarray | None = None,
                l2_grid: Sequence[float] | None = None, bigram_rows: Sequence[int] = (0, BIGRAM_ROWS),
                idf_options: Sequence[bool] = (True,), norm: str = "mean") -> WideFit:
    """Fit the wide term for each weighting, bigram setting and L2 strength (``l2_grid``, default
    IDF_L2_GRID or L2_GRID for the weighting); keep the best validation accuracy (ties: the first,
    i.e. fewer rows, then stronger L2 -- the grid is tried strongest first).
    ``train_targets``: (N,) label ids; ``soft_targets``: (N, L) probabilities to fit instead;
    ``weights``: (N,) loss weight per training text. ``norm``: "mean" (the graph's) or "l2"
    (with idf only; measuring, see the module)."""
    if norm not in ("mean", "l2") or (norm == "l2" and False in idf_options):
        raise ValueError(f"norm {norm!r}: 'mean', or 'l2' with idf")
    targets = torch.from_numpy(soft_targets if soft_targets is not None else train_targets)
    labels = torch.from_numpy(np.asarray(val_labels, np.int64))
    text_weights = None if weights is None else torch.from_numpy(np.asarray(weights, np.float64))
    best: WideFit | None = None
    scores: dict[str, float] = {}
    for bigrams in bigram_rows:
        x_train = wide_features(train_sequences, vocab_size, bigrams)
        x_val = wide_features(val_sequences, vocab_size, bigrams)
        for idf in idf_options:
            scale = idf_of(x_train) if idf else torch.ones(x_train.shape[1], dtype=torch.float64)  # (rows,)
            rows_train = _l2_normed(x_train, scale, train_sequences) if norm == "l2" else x_train
            rows_val = _l2_normed(x_val, scale, val_sequences) if norm == "l2" else x_val
            x_fit = _scaled(rows_train, scale) if idf else rows_train
            previous = None
            default_grid = (L2NORM_L2_GRID if norm == "l2" else IDF_L2_GRID) if idf else L2_GRID
            for l2 in sorted(l2_grid or default_grid, reverse=True):
                weights_fitted, bias = previous = fit_wide(x_fit, targets, outputs, l2, text_weights, previous)
                table = weights_fitted * scale[:, None]  # (rows, outputs): the graph's table
                accuracy = _accuracy(rows_val, labels, table, bias)
                scores[WideFit.score_key(l2, bigrams, idf)] = round(accuracy, 4)
                log.debug("wide term: l2 %g, bigram rows %d, idf %s: validation accuracy %.4f",
                          l2, bigrams, idf, accuracy)
                if best is None or accuracy > best.val_accuracy:
                    best = WideFit(table, bias, l2, bigrams, accuracy, idf, norm=norm,
                                   idf_values=scale if norm == "l2" else None)
    assert best is not None, "an empty grid"
    best.scores = scores
    return best
