"""Teachers for unlabeled texts (``edgelstm train --unlabeled FILE --teacher ...``).

Knowledge distillation on the user's own unlabeled texts: teachers give each unlabeled text a
probability per label, and the model trains on the labeled texts (their labels) together with
the unlabeled ones (the teachers' probabilities, averaged over the teachers). A small LSTM
learns from many more texts than were labeled, and from a teacher that sees the texts
differently: on IMDB, teachers made of an n-gram model and an earlier LSTM took the BiLSTM from
89.7% to over 90.6% (README, "Accuracy").

Teachers:
- ``ngram``: logistic regression on TF-IDF word unigrams, bigrams and trigrams (words-v1's words),
  fitted here on the training split only: validation and test texts are never fitted on. Needs
  scikit-learn (the ``distill`` extra).
- a model file (``.pt``, ``.onnx``): an earlier edgelstm model with the same labels, for
  example one trained on the same data without ``--unlabeled``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from edgelstm.data import LabeledTexts
from edgelstm.errors import DataError, MissingExtraError
from edgelstm.tokenizer import words

__all__ = ["NGRAM_TEACHER", "NgramOptions", "crossfit_probabilities", "teacher_probabilities"]

log = logging.getLogger(__name__)

NGRAM_TEACHER = "ngram"


class NgramOptions:
    """The n-gram teacher's settings (chosen on IMDB's movie-disjoint validation split)."""

    max_n = 3  # word n-grams up to trigrams
    min_df = 2  # n-grams in fewer training texts are dropped
    inverse_regularization = 100.0  # logistic regression's C


def _ngrams(text: str) -> list[str]:
    tokens = words(text)
    grams = list(tokens)
    for n in range(2, NgramOptions.max_n + 1):
        grams += [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return grams


CROSSFIT_FOLDS = 5


def crossfit_probabilities(train: LabeledTexts, labels: Sequence[str], seed: int = 0) -> np.ndarray:
    """(N, L) the n-gram teacher's probabilities of the training texts themselves, each from a
    teacher fitted on the other folds (``CROSSFIT_FOLDS``, seeded): a teacher's answer on its own
    training texts is only their label back (``train --distill-weight``)."""
    folds = np.random.default_rng(seed).permutation(len(train)) % CROSSFIT_FOLDS
    probabilities = np.zeros((len(train), len(labels)), np.float32)
    start = time.perf_counter()
    for fold in range(CROSSFIT_FOLDS):
        held = np.flatnonzero(folds == fold)
        fitted = train.subset(np.flatnonzero(folds != fold))
        probabilities[held] = _ngram_teacher(fitted, labels, [train.texts[i] for i in held])
    log.info("ngram teacher: %d training texts labeled by %d-fold cross-fitting in %.0f s",
             len(train), CROSSFIT_FOLDS, time.perf_counter() - start)
    return probabilities


def _ngram_teacher(train: LabeledTexts, labels: Sequence[str], texts: Sequence[str]) -> np.ndarray:
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        raise MissingExtraError("the ngram teacher needs scikit-learn: pip install 'edgelstm[distill]'") from None
    vectorizer = TfidfVectorizer(analyzer=_ngrams, min_df=NgramOptions.min_df, sublinear_tf=True)
    features = vectorizer.fit_transform(train.texts)
    index = {label: i for i, label in enumerate(labels)}
    targets = np.array([index[label] for label in train.labels])
    regression = LogisticRegression(C=NgramOptions.inverse_regularization, max_iter=3000)
    regression.fit(features, targets)
    probabilities = np.zeros((len(texts), len(labels)), np.float32)  # (N, L), columns in label order
    probabilities[:, regression.classes_] = regression.predict_proba(vectorizer.transform(texts))
    log.info("ngram teacher: %d n-grams from %d training texts", features.shape[1], len(train))
    return probabilities


def _model_teacher(path: Path, labels: Sequence[str], texts: Sequence[str]) -> np.ndarray:
    from edgelstm.classifier import Classifier

    classifier = Classifier.load(path)
    if list(classifier.labels) != list(labels):
        raise DataError(f"{path}: the teacher's labels {classifier.labels} are not the data's {list(labels)}")
    return classifier.predict_proba(texts, batch_size=256).astype(np.float32)


def teacher_probabilities(
    teachers: Sequence[str], train: LabeledTexts, labels: Sequence[str], texts: Sequence[str]
) -> np.ndarray:
    """(N, L) label probabilities of ``texts``: the mean of the teachers' (columns in ``labels``
    order). ``train`` is what the ngram teacher is fitted on."""
    if not teachers:
        raise ValueError("at least one teacher is needed")
    total = np.zeros((len(texts), len(labels)), np.float64)
    for teacher in teachers:
        start = time.perf_counter()
        if teacher == NGRAM_TEACHER:
            found = _ngram_teacher(train, labels, texts)
        else:
            path = Path(teacher)
            if not path.is_file():
                raise DataError(f"{teacher}: no such teacher (a model file, or {NGRAM_TEACHER!r})")
            found = _model_teacher(path, labels, texts)
        log.info("teacher %s labeled %d texts in %.0f s", teacher, len(texts), time.perf_counter() - start)
        total += found
    return (total / len(teachers)).astype(np.float32)
