#!/usr/bin/env bash
# Reproduce the model shipped in runtime/shipped/ (edgelstm predict without --model).
# Usage: scripts/make_default_model.sh [DATASETS_DIR] [WORKDIR]
#   DATASETS_DIR holds IMDB's aclImdb_v1.tar.gz as downloaded, or the same data as three archives:
#   aclImdb_v1_labeled.tar.gz, aclImdb_v1_unsup.tar.gz, aclImdb_v1_urls.tar.gz (both give the same
#   texts in the same order, so the same files).
#   SHIP=0 stops after the export (writes nothing into runtime/shipped/).
#   UNPINNED=1 goes on with library versions other than scripts/recipe-constraints.txt's: the
#   result is then a model of about the same accuracy, not the same bytes (README, "How the
#   shipped model is made").
# Needs the train, pretrain and distill extras, at the versions of scripts/recipe-constraints.txt.
# About 35-40 minutes on 2 idle cores (README, "How the shipped model is made": the steps' measured
# times); far longer on a shared machine (step 1 alone: 32 minutes at a load average of 15).
#
# 1. Word vectors (skip-gram word2vec, dim 100, 5 epochs, seed 0, one thread) on IMDB's own
#    unlabeled text: the 25,000 training reviews and the 50,000 unlabeled ones. The test split
#    is never read.
# 2. The teacher: the default recipe (train/presets.py): BiLSTM 64 units per direction, max+mean
#    pooling, words seen at least twice in training (25,000 at most), embedding started from the
#    vectors, dropout 0.3, word dropout 0.25, AdamW (weight decay 0.01) with a cosine learning
#    rate over 10 epochs; early stopping on a movie-disjoint validation split (10% of the
#    training reviews, grouped by the dataset's URL lists: no movie on both sides, as in IMDB's
#    own train/test split).
# 3. The shipped model: the same recipe with 32 units per direction (batch-1 latency), trained on
#    the training reviews and the 50,000 unlabeled ones, labeled by two teachers averaged: an
#    n-gram logistic regression fitted on the training split and the model of step 2. Six
#    epochs over the 72,000 texts; the last epoch is kept (the cosine schedule's end; validation,
#    the same movie-disjoint split, cannot tell the last epochs apart).
# 4. Export, int8 (the default batch-invariant recipe), ship with its manifest.
# Deterministic for the seed on a CPU with one thread (README, "How the shipped model is made").
set -euo pipefail
cd "$(dirname "$0")/.."
DATASETS=${1:-../shared/datasets}
WORK=${2:-runs/default}

# The versions the shipped files were made with; others train and export differently rounded numbers.
if ! python scripts/recipe_versions.py --check --constraints "${CONSTRAINTS:-scripts/recipe-constraints.txt}"; then
    if [[ "${UNPINNED:-0}" != 1 ]]; then
        echo "make_default_model.sh: install the recipe's versions first:" \
             "pip install -c scripts/recipe-constraints.txt '.[train,pretrain,distill]'" \
             "(or UNPINNED=1: about the same accuracy, not the same bytes)" >&2
        exit 1
    fi
    echo "make_default_model.sh: UNPINNED=1: going on with other versions" >&2
fi

if [[ -f "$DATASETS/aclImdb_v1_labeled.tar.gz" ]]; then
    IMDB=$DATASETS/aclImdb_v1_labeled.tar.gz
    UNLABELED=$DATASETS/aclImdb_v1_unsup.tar.gz
    URLS=$DATASETS/aclImdb_v1_urls.tar.gz
    TRAIN_TEXTS=("$IMDB" "$UNLABELED")
elif [[ -f "$DATASETS/aclImdb_v1.tar.gz" ]]; then
    # one archive: its train split is read in the same order (train/neg, train/pos, train/unsup),
    # and the labeled reviews among --unlabeled's are left out as training texts
    IMDB=$DATASETS/aclImdb_v1.tar.gz
    UNLABELED=$IMDB
    URLS=$IMDB
    TRAIN_TEXTS=("$IMDB")
else
    echo "make_default_model.sh: $DATASETS has neither aclImdb_v1.tar.gz nor aclImdb_v1_labeled.tar.gz" >&2
    exit 4
fi
mkdir -p "$WORK"

edgelstm pretrain "${TRAIN_TEXTS[@]}" -o "$WORK/imdb-vectors.vec" \
    --dim 100 --epochs 5 --window 5 --min-count 3 --seed 0
# --no-blend: the shipped model was made before the default recipe blended long texts (the
# thirteenth round of docs/recipe-rounds.md); this script keeps making that model
edgelstm train "$IMDB" -o "$WORK/teacher.pt" --preset default --vectors "$WORK/imdb-vectors.vec" \
    --val-groups "$URLS" --seed 0 --threads 1 --no-progress --no-blend
edgelstm train "$IMDB" -o "$WORK/model.pt" --preset default --hidden 32 --vectors "$WORK/imdb-vectors.vec" \
    --val-groups "$URLS" --unlabeled "$UNLABELED" \
    --teacher ngram --teacher "$WORK/teacher.pt" --epochs 6 --keep last --seed 0 --threads 1 --no-progress --no-blend
edgelstm export "$WORK/model.pt" -o "$WORK" --int8 --data "$IMDB"
if [[ "${SHIP:-1}" != 0 ]]; then
    python scripts/ship_model.py "$WORK/model.int8.onnx" --history "$WORK/model.history.json" \
        --curves "$WORK/model.history.png" --data "$IMDB" --command "scripts/make_default_model.sh $*"
fi
