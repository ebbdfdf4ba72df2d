"""Classic baselines on the same split: TF-IDF + logistic regression, unigrams and bigrams.

    pip install ".[bench]"
    python benchmarks/baselines.py ../shared/datasets/aclImdb_v1_labeled.tar.gz

The regularization strength C is chosen on a seeded 10% validation part of the training split
(as edgelstm's models choose their epoch), then the model is refit on the whole training split
and scored once on the test split.
"""

from __future__ import annotations

import argparse
import json
import re
import time

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from edgelstm.data import load_labeled

C_GRID = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
_LINE_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)


def _fit(texts, labels, ngrams: int, c: float):
    vectorizer = TfidfVectorizer(ngram_range=(1, ngrams), min_df=2, sublinear_tf=True,
                                 preprocessor=lambda t: _LINE_BREAK.sub(" ", t).lower())
    features = vectorizer.fit_transform(texts)
    model = LogisticRegression(C=c, max_iter=3000).fit(features, labels)
    return vectorizer, model


def _accuracy(vectorizer, model, texts, labels) -> float:
    return float((model.predict(vectorizer.transform(texts)) == np.asarray(labels)).mean())


def baseline(train, test, ngrams: int, seed: int = 0) -> dict:
    order = np.random.default_rng(seed).permutation(len(train.texts))
    n_val = len(order) // 10
    fit_rows, val_rows = order[n_val:], order[:n_val]
    pick = lambda rows, xs: [xs[i] for i in rows]  # noqa: E731
    scores = {}
    for c in C_GRID:
        vectorizer, model = _fit(pick(fit_rows, train.texts), pick(fit_rows, train.labels), ngrams, c)
        scores[c] = _accuracy(vectorizer, model, pick(val_rows, train.texts), pick(val_rows, train.labels))
    best_c = max(scores, key=scores.get)
    start = time.perf_counter()
    vectorizer, model = _fit(train.texts, train.labels, ngrams, best_c)
    seconds = time.perf_counter() - start
    return {
        "name": f"TF-IDF + logistic regression, {'unigrams' if ngrams == 1 else 'unigrams+bigrams'}",
        "C": best_c, "val_accuracy": scores[best_c], "features": len(vectorizer.vocabulary_),
        "test_accuracy": _accuracy(vectorizer, model, test.texts, test.labels), "train_seconds": round(seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="aclImdb folder or .tar.gz (has its own test split)")
    args = parser.parse_args()
    dataset = load_labeled(args.data)
    for ngrams in (1, 2):
        print(json.dumps(baseline(dataset.train, dataset.test, ngrams)), flush=True)


if __name__ == "__main__":
    main()
