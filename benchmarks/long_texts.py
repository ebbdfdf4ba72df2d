"""Which tokens of a long review carry its label: the first, the last, or half of each.

    python benchmarks/long_texts.py ../shared/datasets/aclImdb_v1_labeled.tar.gz

Model-independent: TF-IDF + logistic regression (C=4) fitted on 10,000 seeded training reviews
cut to N tokens (words-v1), scored on those of 10,000 seeded test reviews longer than N, cut the
same way. Chose edgelstm's long-text policy (README, "Accuracy on your own data"): keep the last
max_len tokens.
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from edgelstm.data import load_labeled
from edgelstm.tokenizer import words

CUTS = {
    "first": lambda w, n: w[:n],
    "last": lambda w, n: w[-n:],
    "half+half": lambda w, n: w[: n // 2] + w[-(n - n // 2):] if len(w) > n else w,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="aclImdb folder or .tar.gz")
    parser.add_argument("--lengths", type=int, nargs="*", default=[100, 200, 500])
    args = parser.parse_args()
    dataset = load_labeled(args.data)
    rng = np.random.default_rng(0)
    train_rows = rng.permutation(len(dataset.train))[:10000]
    test_rows = rng.permutation(len(dataset.test))[:10000]
    train_words = [words(dataset.train.texts[i]) for i in train_rows]
    test_words = [words(dataset.test.texts[i]) for i in test_rows]
    train_labels = [dataset.train.labels[i] for i in train_rows]
    test_labels = np.array([dataset.test.labels[i] for i in test_rows])
    for n in args.lengths:
        longer = [i for i, w in enumerate(test_words) if len(w) > n]
        for name, cut in CUTS.items():
            vectorizer = TfidfVectorizer(analyzer=lambda tokens: tokens, min_df=2, sublinear_tf=True)
            features = vectorizer.fit_transform([cut(w, n) for w in train_words])
            model = LogisticRegression(C=4, max_iter=2000).fit(features, train_labels)
            predicted = model.predict(vectorizer.transform([cut(test_words[i], n) for i in longer]))
            print(f"max_len {n}: {name:9s} accuracy {np.mean(predicted == test_labels[longer]):.4f} "
                  f"on {len(longer)} test reviews longer than {n}", flush=True)


if __name__ == "__main__":
    main()
