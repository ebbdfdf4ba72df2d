"""Word vectors (--vectors), pretraining on unlabeled text (edgelstm pretrain), explicit and
grouped validation (--val, --val-groups), the training-only regularization, and the presets."""

import itertools
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from edgelstm import Classifier
from edgelstm.config import ModelConfig
from edgelstm.data import Dataset, LabeledTexts
from edgelstm.errors import DataError
from edgelstm.tokenizer import OOV_ID, PAD_ID
from edgelstm.train import TextClassifier, TrainOptions, load_checkpoint, train
from edgelstm.train.presets import PRESETS
from edgelstm.train.trainer import Encoded, _split, _tensors
from edgelstm.train.vectors import read_vectors, vector_dim, write_vectors
from tests.helpers import IMDB, needs_imdb
from tests.test_train import small_config, toy_dataset

DATASETS = IMDB.parent
UNSUP = DATASETS / "aclImdb_v1_unsup.tar.gz"
URLS = DATASETS / "aclImdb_v1_urls.tar.gz"


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "edgelstm.cli", *map(str, args)], capture_output=True, text=True)


# --- the vector file format ---------------------------------------------------------------

def test_reads_vectors_with_and_without_header_keeping_only_wanted_words(tmp_path):
    body = "film 0.5 -1 2\nacting 1e-1 0 0\nplot 3 3 3\n"
    with_header, plain = tmp_path / "a.vec", tmp_path / "b.txt"
    with_header.write_text("3 3\n" + body)
    plain.write_text(body)  # GloVe: no header
    for path in (with_header, plain):
        found = read_vectors(path, ["plot", "film", "missing"])
        assert found.words == ["film", "plot"] and found.file_words == 3 and vector_dim(path) == 3
        np.testing.assert_array_equal(found.vectors, np.array([[0.5, -1, 2], [3, 3, 3]], np.float32))


@pytest.mark.parametrize("line, message", [("acting 1 2\n", "2 values, the first vector had 3"),
                                           ("acting 1 x 2\n", "not a vector of numbers")])
def test_a_broken_vector_file_names_file_and_line(tmp_path, line, message):
    path = tmp_path / "v.vec"
    path.write_text("2 3\nfilm 1 2 3\n" + line)
    with pytest.raises(DataError, match=rf"v\.vec:3: {message}"):
        read_vectors(path, ["film", "acting"])


def test_written_vectors_read_back(tmp_path):
    vectors = np.arange(6, dtype=np.float32).reshape(2, 3) / 4
    write_vectors(tmp_path / "v.vec", ["a", "b"], vectors)
    found = read_vectors(tmp_path / "v.vec")
    assert found.words == ["a", "b"]
    np.testing.assert_array_equal(found.vectors, vectors)


# --- training with vectors -----------------------------------------------------------------

def test_vectors_start_the_embedding_and_freezing_keeps_them(tmp_path):
    config = small_config("bilstm")
    vectors = tmp_path / "v.vec"
    known = {"great": [1.0] * 8, "awful": [-1.0] * 8, "unused": [7.0] * 8}
    vectors.write_text("".join(f"{w} {' '.join(map(str, v))}\n" for w, v in known.items()))
    options = TrainOptions(epochs=2, batch_size=16, vectors=str(vectors), freeze_vectors=True)
    model, _ = train(toy_dataset(), config, options, tmp_path / "m.pt", show_progress=False)
    vocabulary = model.config.vocabulary
    for word in ("great", "awful"):
        row = model.embedding.weight[vocabulary.index(word) + 2]
        assert torch.equal(row, torch.tensor(known[word])), word
    assert model.config.metrics["vectors_coverage"] == round(2 / len(vocabulary), 4)

    tuned, _ = train(toy_dataset(), config, TrainOptions(epochs=2, batch_size=16, vectors=str(vectors)),
                     tmp_path / "t.pt", show_progress=False)
    assert not torch.equal(tuned.embedding.weight[vocabulary.index("great") + 2], torch.tensor(known["great"]))


def test_vectors_of_another_dimension_are_refused(tmp_path):
    vectors = tmp_path / "v.vec"
    vectors.write_text("great 1 2 3\n")
    with pytest.raises(DataError, match="dimension 3, the embedding has 8"):
        train(toy_dataset(), small_config(), TrainOptions(epochs=1, vectors=str(vectors)), tmp_path / "m.pt",
              show_progress=False)


# --- validation -----------------------------------------------------------------------------

def test_explicit_validation_set_is_used_and_kept(tmp_path):
    dataset = toy_dataset(300)
    validation = toy_dataset(100, seed=5).train
    options = TrainOptions(epochs=2, batch_size=16, keep_validation_texts=True)
    model, _ = train(dataset, small_config(), options, tmp_path / "m.pt",
                           show_progress=False, validation=validation)
    metrics = model.config.metrics
    assert metrics["validation"] == "given" and metrics["train_examples"] == len(dataset.train)
    held_out = load_checkpoint(tmp_path / "m.pt")["held_out"]
    assert held_out["texts"] == validation.texts


def test_grouped_split_keeps_each_group_on_one_side():
    groups = [f"g{i // 7}" for i in range(700)]  # 100 groups of 7
    order = np.random.default_rng(0).permutation(700)
    train_rows, val_rows = _split(order, 0.1, groups)
    assert sorted(np.concatenate([train_rows, val_rows])) == list(range(700))
    assert not {groups[i] for i in train_rows} & {groups[i] for i in val_rows}
    assert 70 <= len(val_rows) < 77  # whole groups until 10% is reached


def test_imdb_url_lists_give_a_movie_disjoint_split(imdb, tmp_path):
    if not URLS.exists():
        pytest.skip(f"{URLS} not found")
    from edgelstm.train.groups import read_groups

    groups = read_groups(URLS, IMDB)
    assert len(groups) == len(imdb.train) == 25000
    assert all(g.startswith("http://www.imdb.com/title/tt") for g in groups)
    movies = len(set(groups))
    assert 1000 < movies < 25000 / 3  # reviews share movies: a random split would leak
    train_rows, val_rows = _split(np.random.default_rng(0).permutation(25000), 0.1, groups)
    assert not {groups[i] for i in train_rows} & {groups[i] for i in val_rows}
    with pytest.raises(DataError, match="validation groups for"):
        train(Dataset(imdb.train.subset(range(100))), small_config(), TrainOptions(epochs=1),
              tmp_path / "m.pt", show_progress=False, groups=groups)


# --- regularization -------------------------------------------------------------------------

def test_word_dropout_replaces_words_by_unknown_and_never_padding():
    data = Encoded([[5] * 40, [6] * 10], np.array([0, 1]))
    rows = np.array([0, 1])
    plain, _, _ = _tensors(data, rows, "cpu")
    same, _, _ = _tensors(data, rows, "cpu", 0.0, torch.Generator().manual_seed(0))
    assert torch.equal(plain, same)
    dropped, _, _ = _tensors(data, rows, "cpu", 0.5, torch.Generator().manual_seed(0))
    changed = dropped != plain
    assert torch.all(dropped[changed] == OOV_ID) and torch.all(dropped[plain == PAD_ID] == PAD_ID)
    assert 10 < changed.sum() < 40  # about half of the 50 words


def test_cosine_schedule_ends_near_zero_and_weight_decay_uses_adamw(tmp_path):
    options = TrainOptions(epochs=3, batch_size=16, lr_schedule="cosine", weight_decay=0.1, word_dropout=0.1,
                           patience=3)
    model, history = train(toy_dataset(), small_config(), options, tmp_path / "m.pt", show_progress=False)
    state = load_checkpoint(tmp_path / "m.pt")
    assert len(history) == 3 and state["resume"] is None
    from edgelstm.train.trainer import _optimizer

    optimizer, scheduler = _optimizer(model, options, 160)
    assert isinstance(optimizer, torch.optim.AdamW)
    for _ in range(3 * 10):
        optimizer.step()
        scheduler.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)


# --- presets --------------------------------------------------------------------------------

def test_keras_imdb_preset_is_the_examples_configuration():
    keras, config, options = PRESETS["keras-imdb"], asdict(ModelConfig()), asdict(TrainOptions())
    for key in ("arch", "vocab_size", "max_len", "embed_dim", "hidden", "dense"):
        assert keras[key] == config[key], key
    for key in ("epochs", "batch_size", "val_split", "patience", "min_count", "word_dropout", "weight_decay",
                "lr_schedule"):
        assert keras[key] == options[key], key
    assert keras["lr"] == options["learning_rate"] and keras["dropout"] is None  # DEFAULT_DROPOUT per arch
    assert set(PRESETS["default"]) == set(keras)


# --- pretraining on real unlabeled reviews, end to end ---------------------------------------

@pytest.fixture(scope="module")
def unlabeled_reviews(tmp_path_factory):
    needs_imdb()
    if not UNSUP.exists():
        pytest.skip(f"{UNSUP} not found")
    from edgelstm.train.pretrain import read_unlabeled

    path = tmp_path_factory.mktemp("unsup") / "reviews.txt"
    texts = itertools.islice(read_unlabeled([UNSUP]), 600)
    path.write_text("".join(t.replace("\n", " ") + "\n" for t in texts), encoding="utf-8")
    return path


def test_pretrain_is_deterministic_and_feeds_training_and_export(unlabeled_reviews, tmp_path):
    pytest.importorskip("gensim")
    args = [unlabeled_reviews, "--dim", 16, "--epochs", 2, "--min-count", 2, "--seed", 3]
    first = run_cli("pretrain", *args, "-o", tmp_path / "a.vec")
    assert first.returncode == 0, first.stderr
    second = run_cli("pretrain", *args, "-o", tmp_path / "b.vec")
    assert second.returncode == 0, second.stderr
    vectors = (tmp_path / "a.vec").read_bytes()
    assert vectors == (tmp_path / "b.vec").read_bytes()  # same seed, other process: same file
    header = vectors.split(b"\n", 1)[0].split()
    assert int(header[0]) > 1000 and int(header[1]) == 16
    assert b"\nmovie " in vectors and b"\ndon't " in vectors  # the words-v1 tokenizer's words

    checkpoint = tmp_path / "m.pt"
    result = run_cli("train", IMDB, "-o", checkpoint, "--vectors", tmp_path / "a.vec", "--val-groups", URLS,
                     "--limit", 1500, "--epochs", 1, "--hidden", 8, "--max-len", 100, "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "word vectors:" in result.stderr and "test accuracy" in result.stdout
    config = ModelConfig.from_dict(load_checkpoint(checkpoint)["config"])
    assert config.embed_dim == 16 and config.metrics["validation"] == "grouped split"
    pretrained = {line.split(" ", 1)[0] for line in vectors.decode().splitlines()[1:]}
    found = sum(word in pretrained for word in config.vocabulary)
    assert found > 1000 and config.metrics["vectors_coverage"] == round(found / len(config.vocabulary), 4)

    result = run_cli("export", checkpoint, "-o", tmp_path / "out")  # checks parity with PyTorch itself
    assert result.returncode == 0, result.stderr
    reviews = LabeledTexts(*zip(*[(t, "x") for t in Path(unlabeled_reviews).read_text().splitlines()[:64]]))
    onnx = Classifier.load(tmp_path / "out" / "model.onnx").predict(list(reviews.texts))
    torch_model = Classifier.load(checkpoint).predict(list(reviews.texts))
    for a, b in zip(onnx, torch_model):
        assert a.label == b.label
        assert a.probabilities == pytest.approx(b.probabilities, abs=1e-5)


# --- the training forward pass without packed sequences ---------------------------------------

@pytest.mark.parametrize("arch", ["lstm", "bilstm"])
@pytest.mark.parametrize("training", [False, True])
def test_padded_forward_matches_the_model(arch, training):
    from edgelstm.train.trainer import forward_padded

    torch.manual_seed(0)
    model = TextClassifier(ModelConfig(arch=arch, vocab_size=50, embed_dim=6, hidden=5, dense=7, dropout=0.3))
    model.train(training)
    lengths = torch.tensor([1, 9, 4, 9, 2])
    input_ids = torch.randint(2, 50, (5, 9)).masked_fill(torch.arange(9)[None, :] >= lengths[:, None], PAD_ID)
    torch.manual_seed(1)
    expected = model(input_ids, lengths)
    torch.manual_seed(1)
    got = forward_padded(model, input_ids, lengths)
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-5)
    if training:
        expected.sum().backward()
        wanted = {n: p.grad.clone() for n, p in model.named_parameters()}
        model.zero_grad()
        got.sum().backward()
        for name, parameter in model.named_parameters():
            torch.testing.assert_close(parameter.grad, wanted[name], atol=1e-6, rtol=1e-5, msg=name)
