"""Classic baselines on the same split: TF-IDF + logistic regression and fastText, unigrams and
bigrams.

    pip install ".[bench]"
    python benchmarks/baselines.py ../shared/datasets/aclImdb_v1_labeled.tar.gz

TF-IDF: the regularization strength C is chosen on a seeded 10% validation part of the training
split (as edgelstm's models choose their epoch), then the model is refit on the whole training
split and scored once on the test split.

fastText (fasttext-wheel): supervised, dim 50, 10 epochs, one thread, seed 0, on the words of
edgelstm's own tokenizer (words-v1), so both read the same words; with bigrams also the quantized
``.ftz`` (its size and accuracy), as fastText's docs make it for small models.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from edgelstm.data import load_labeled
from edgelstm.metrics import classification_report
from edgelstm.tokenizer import words

C_GRID = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
_LINE_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)


def _fit(texts, labels, ngrams: int, c: float, same_words: bool = False):
    if same_words:  # edgelstm's own words (words-v1), as the fastText baseline and the models read
        vectorizer = TfidfVectorizer(analyzer=lambda t: _word_ngrams(t, ngrams), min_df=2, sublinear_tf=True)
    else:  # scikit-learn's words (2+ characters) of the lowercased text: the IMDB table's baseline
        vectorizer = TfidfVectorizer(ngram_range=(1, ngrams), min_df=2, sublinear_tf=True,
                                     preprocessor=lambda t: _LINE_BREAK.sub(" ", t).lower())
    features = vectorizer.fit_transform(texts)
    model = LogisticRegression(C=c, max_iter=3000).fit(features, labels)
    return vectorizer, model


def _word_ngrams(text: str, ngrams: int) -> list[str]:
    tokens = words(text)
    return tokens + [" ".join(tokens[i : i + n]) for n in range(2, ngrams + 1) for i in range(len(tokens) - n + 1)]


def _accuracy(vectorizer, model, texts, labels) -> float:
    return float((model.predict(vectorizer.transform(texts)) == np.asarray(labels)).mean())


def _macro_f1(predicted, labels) -> float:
    """The unweighted mean of the labels' F1 (edgelstm.metrics, as ``edgelstm evaluate``)."""
    names = sorted(set(labels) | set(predicted))
    index = {name: i for i, name in enumerate(names)}
    return classification_report(names, np.array([index[y] for y in labels]),
                                 np.array([index[p] for p in predicted]))["macro_f1"]


def baseline(train, test, ngrams: int, seed: int = 0, same_words: bool = False) -> dict:
    order = np.random.default_rng(seed).permutation(len(train.texts))
    n_val = len(order) // 10
    fit_rows, val_rows = order[n_val:], order[:n_val]
    def pick(rows, xs):
        return [xs[i] for i in rows]

    scores = {}
    for c in C_GRID:
        vectorizer, model = _fit(pick(fit_rows, train.texts), pick(fit_rows, train.labels), ngrams, c, same_words)
        scores[c] = _accuracy(vectorizer, model, pick(val_rows, train.texts), pick(val_rows, train.labels))
    best_c = max(scores, key=scores.get)
    start = time.perf_counter()
    vectorizer, model = _fit(train.texts, train.labels, ngrams, best_c, same_words)
    seconds = time.perf_counter() - start
    predicted = [str(label) for label in model.predict(vectorizer.transform(test.texts))]
    return {
        "name": f"TF-IDF + logistic regression, {'unigrams' if ngrams == 1 else 'unigrams+bigrams'}",
        "C": best_c, "val_accuracy": scores[best_c], "features": len(vectorizer.vocabulary_),
        "test_accuracy": _accuracy(vectorizer, model, test.texts, test.labels), "train_seconds": round(seconds, 1),
        "test_macro_f1": _macro_f1(predicted, test.labels), "test_predicted": predicted,
    }


FASTTEXT = {"dim": 50, "epoch": 10, "lr": 0.1, "thread": 1, "seed": 0, "verbose": 0}


def fasttext_baseline(train, test, ngrams: int) -> dict:
    """fastText supervised on the words-v1 tokens; the model file's size, and .ftz for bigrams."""
    import fasttext

    def lines(data):
        # shuffled (seeded): fastText learns in file order, and aclImdb is read label by label
        order = np.random.default_rng(0).permutation(len(data.texts))
        return ["__label__" + data.labels[i] + " " + " ".join(words(data.texts[i])) for i in order]

    test_lines = [" ".join(words(text)) for text in test.texts]

    def accuracy(model) -> float:
        predicted, _ = model.predict(test_lines)
        return float(np.mean([p[0] == "__label__" + y for p, y in zip(predicted, test.labels)]))

    def predicted_labels(model) -> list[str]:
        predicted, _ = model.predict(test_lines)
        return [p[0].removeprefix("__label__") for p in predicted]

    with tempfile.TemporaryDirectory() as tmp:
        train_file = Path(tmp) / "train.txt"
        train_file.write_text("\n".join(lines(train)) + "\n", encoding="utf-8")
        start = time.perf_counter()
        model = fasttext.train_supervised(str(train_file), wordNgrams=ngrams, **FASTTEXT)
        seconds = time.perf_counter() - start
        model.save_model(str(Path(tmp) / "model.bin"))
        predicted = predicted_labels(model)
        result = {
            "name": f"fastText, {'unigrams' if ngrams == 1 else 'unigrams+bigrams'}",
            "settings": f"dim {FASTTEXT['dim']}, {FASTTEXT['epoch']} epochs, word n-grams {ngrams}",
            "test_accuracy": accuracy(model), "test_macro_f1": _macro_f1(predicted, test.labels),
            "test_predicted": predicted, "train_seconds": round(seconds, 1),
            "bytes": (Path(tmp) / "model.bin").stat().st_size,
        }
        if ngrams > 1:
            start = time.perf_counter()
            model.quantize(input=str(train_file), retrain=True, qnorm=True, cutoff=100_000, thread=1, verbose=0)
            model.save_model(str(Path(tmp) / "model.ftz"))
            result.update(ftz_test_accuracy=accuracy(model), ftz_bytes=(Path(tmp) / "model.ftz").stat().st_size,
                          ftz_seconds=round(time.perf_counter() - start, 1))
    return result


def _summary(result: dict) -> dict:
    """The result without its per-text predictions (25,000 of them on IMDB)."""
    return {key: value for key, value in result.items() if key != "test_predicted"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="aclImdb folder or .tar.gz (has its own test split)")
    args = parser.parse_args()
    dataset = load_labeled(args.data)
    for ngrams in (1, 2):
        print(json.dumps(_summary(fasttext_baseline(dataset.train, dataset.test, ngrams))), flush=True)
    for ngrams in (1, 2):
        print(json.dumps(_summary(baseline(dataset.train, dataset.test, ngrams))), flush=True)


if __name__ == "__main__":
    main()
