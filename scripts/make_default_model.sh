#!/usr/bin/env bash
# Reproduce the model shipped in runtime/shipped/ (edgelstm predict without --model).
# Usage: scripts/make_default_model.sh [IMDB_ARCHIVE] [WORKDIR]
# Takes about 40 minutes on 2 CPU cores; run it on an otherwise idle machine, since the int8
# recipe is chosen by timing the candidates.
set -euo pipefail
cd "$(dirname "$0")/.."
IMDB=${1:-../shared/datasets/aclImdb_v1_labeled.tar.gz}
WORK=${2:-runs/default}

edgelstm train "$IMDB" -o "$WORK/model.pt" --arch bilstm --vocab-size 20000 --embed-dim 64 --hidden 32 --seed 0
edgelstm export "$WORK/model.pt" -o "$WORK" --int8
python scripts/ship_model.py "$WORK/model.int8.onnx" --history "$WORK/model.history.json" \
    --curves "$WORK/model.history.png" --data "$IMDB" --command "scripts/make_default_model.sh $*"
