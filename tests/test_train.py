"""Training: reproducible for a seed, resumable, and the checkpoint holds what the runtime needs."""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from edgelstm import Classifier  # noqa: E402
from edgelstm.config import ModelConfig  # noqa: E402
from edgelstm.data import Dataset, LabeledTexts  # noqa: E402
from edgelstm.errors import DataError, InputError  # noqa: E402
from edgelstm.train import TextClassifier, TrainOptions, load_checkpoint, train  # noqa: E402
from edgelstm.train.presets import SHORT_TEXT_ENSEMBLE_TEACHERS  # noqa: E402
from tests.helpers import run_cli  # noqa: E402

POSITIVE = "a great wonderful film with fine acting and a moving story".split()
NEGATIVE = "a dull awful film with bad acting and a boring story".split()


def toy_dataset(n=200, seed=0):
    import random

    rng = random.Random(seed)
    data, test = LabeledTexts(), LabeledTexts()
    for i in range(n):
        label = "pos" if i % 2 else "neg"
        words = POSITIVE if label == "pos" else NEGATIVE
        text = " ".join(rng.choice(words) for _ in range(rng.randint(3, 30)))
        (test if i % 5 == 0 else data).add(text, label)
    return Dataset(data, test)


def small_config(arch="lstm"):
    return ModelConfig(arch=arch, vocab_size=30, max_len=20, embed_dim=8, hidden=8, dense=8)


def test_evaluate_counts_probability_targets_by_their_most_probable_label():
    """A distilled text's target is (L,) probabilities: evaluate's accuracy compares the model's
    label with the target's most probable one (as the training epoch does)."""
    from edgelstm.train.trainer import Encoded, _evaluate

    torch.manual_seed(0)
    model = TextClassifier(replace(small_config(), labels=["a", "b"]))
    sequences = [[2, 3, 4], [5, 6], [7], [8, 9, 10, 11]]
    soft = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]], np.float32)
    hard = Encoded(sequences, soft.argmax(axis=1))
    _, accuracy, predicted = _evaluate(model, hard, "cpu")
    _, soft_accuracy, soft_predicted = _evaluate(model, Encoded(sequences, hard.targets, soft), "cpu")
    assert soft_accuracy == accuracy == float((predicted == hard.targets).mean())
    assert list(soft_predicted) == list(predicted)


def test_same_seed_same_exported_file(tmp_path, monkeypatch):
    """Training twice, then exporting: byte-identical model.onnx, however long each run took (no
    wall time in the metadata)."""
    pytest.importorskip("onnx")
    import time

    from edgelstm.export import export_checkpoint
    from edgelstm.train import trainer

    files = []
    for run, slower in (("a", 1), ("b", 7)):  # run b's clock runs 7 times as fast: a slow machine
        monkeypatch.setattr(trainer.time, "perf_counter", lambda factor=slower: time.monotonic() * factor)
        checkpoint = tmp_path / run / "model.pt"
        checkpoint.parent.mkdir()
        train(toy_dataset(), small_config("bilstm"), TrainOptions(epochs=2, seed=3, batch_size=16), checkpoint,
              show_progress=False)
        files.append(export_checkpoint(checkpoint, tmp_path / run / "export")[0][0].read_bytes())
    assert files[0] == files[1]


@pytest.mark.parametrize("arch", ["lstm", "bilstm"])
def test_same_seed_same_model(tmp_path, arch):
    options = TrainOptions(epochs=2, seed=3, batch_size=16)
    first, _ = train(toy_dataset(), small_config(arch), options, tmp_path / "a.pt", show_progress=False)
    second, _ = train(toy_dataset(), small_config(arch), options, tmp_path / "b.pt", show_progress=False)
    for (name, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items()):
        assert torch.equal(a, b), name
    other, _ = train(toy_dataset(), small_config(arch), TrainOptions(epochs=2, seed=4, batch_size=16),
                     tmp_path / "c.pt", show_progress=False)
    assert not torch.equal(first.embedding.weight, other.embedding.weight)


def test_learns_a_separable_toy_task_and_records_everything(tmp_path):
    options = TrainOptions(epochs=8, batch_size=16, learning_rate=0.01, patience=8)
    model, history = train(toy_dataset(400), small_config(), options, tmp_path / "m.pt", show_progress=False)
    metrics = model.config.metrics
    assert metrics["test_accuracy"] > 0.9
    assert metrics["epochs_run"] == len(history) == 8
    assert history[metrics["best_epoch"] - 1]["val_accuracy"] == metrics["val_accuracy"]
    state = load_checkpoint(tmp_path / "m.pt")
    assert state["resume"] is None and state["history"] == history
    assert json.loads((tmp_path / "m.history.json").read_text()) == history
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert not (tmp_path / "m.history.png").exists()
    else:
        assert (tmp_path / "m.history.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert ModelConfig.from_dict(state["config"]).labels == ["neg", "pos"]
    assert Classifier.load(tmp_path / "m.pt").predict(["great wonderful film"])[0].label == "pos"


def test_early_stopping_keeps_the_best_epoch(tmp_path):
    options = TrainOptions(epochs=20, batch_size=16, learning_rate=0.05, patience=1)
    model, history = train(toy_dataset(), small_config(), options, tmp_path / "m.pt", show_progress=False)
    best = model.config.metrics["best_epoch"]
    assert len(history) <= best + 1 < 21
    assert max(h["val_accuracy"] for h in history) == history[best - 1]["val_accuracy"]


def test_a_weight_average_is_what_validation_judges_and_training_keeps(tmp_path):
    """ema_decay: the kept weights are the moving average of the trained ones (one step per epoch
    here: after two steps d * w1 + (1 - d) * w2, w1 and w2 from runs without it, whose training it
    does not change), and the validation accuracy recorded is the average's."""
    from edgelstm.train.trainer import _prepare, evaluate

    one_step = TrainOptions(epochs=1, batch_size=256, learning_rate=0.05, keep="last")
    w1, _ = train(toy_dataset(), small_config(), one_step, tmp_path / "1.pt", show_progress=False)
    w2, _ = train(toy_dataset(), small_config(), TrainOptions(**{**one_step.__dict__, "epochs": 2}),
                  tmp_path / "2.pt", show_progress=False)
    averaged, history = train(toy_dataset(), small_config(),
                              TrainOptions(**{**one_step.__dict__, "epochs": 2, "ema_decay": 0.25}),
                              tmp_path / "avg.pt", show_progress=False)
    first, last, kept = w1.state_dict(), w2.state_dict(), averaged.state_dict()
    assert not torch.allclose(first["embedding.weight"], last["embedding.weight"])
    for name, value in kept.items():
        assert torch.allclose(value, 0.25 * first[name] + 0.75 * last[name], atol=1e-6), name
    # validation: the same seeded split as the run's (144 training texts, 16 validation)
    config, data, _ = _prepare(toy_dataset(), small_config(), one_step, None, None)
    assert config.vocabulary == averaged.config.vocabulary
    assert history[-1]["val_accuracy"] == evaluate(averaged, data["val"], "cpu")[1]
    from edgelstm.errors import DataError

    with pytest.raises(DataError, match="weight average"):  # the resume state does not hold the average
        train(toy_dataset(), small_config(), TrainOptions(**{**one_step.__dict__, "ema_decay": 0.25}),
              tmp_path / "2.pt", resume=True, show_progress=False)


def test_model_teachers_label_the_training_texts_for_distill_weight(tmp_path, monkeypatch):
    """distill_teachers (the sixteenth round): the training texts' targets are (1 - w) x their
    labels + w x the mean of the teacher models' probabilities on them, not the n-gram teacher's."""
    from edgelstm.tokenizer import Tokenizer
    from edgelstm.train import distill
    from edgelstm.train.trainer import _prepare

    one_step = TrainOptions(epochs=1, batch_size=256, learning_rate=0.05, keep="last")
    paths = [str(tmp_path / f"teacher{seed}.pt") for seed in (0, 1)]
    for seed, path in enumerate(paths):
        train(toy_dataset(), small_config(), TrainOptions(**{**one_step.__dict__, "seed": seed}), Path(path),
              show_progress=False)
    asked: list[list[str]] = []
    real = distill.teacher_probabilities
    monkeypatch.setattr(distill, "teacher_probabilities",
                        lambda teachers, train_part, labels, texts: asked.append(list(texts)) or real(
                            teachers, train_part, labels, texts))
    monkeypatch.setattr(distill, "crossfit_probabilities", None)  # never asked
    options = TrainOptions(**{**one_step.__dict__, "distill_weight": 0.25, "distill_teachers": tuple(paths)})
    config, data, _ = _prepare(toy_dataset(), small_config(), options, None, None)
    (texts,) = asked
    tokenizer = Tokenizer(config.vocabulary, config.max_len)
    assert [tokenizer.encode(text) for text in texts] == data["train"].sequences  # the training split
    teachers = np.mean([Classifier.load(path).predict_proba(texts) for path in paths], axis=0)  # (N, 2)
    labels = np.eye(2, dtype=np.float32)[data["train"].targets]
    assert np.abs(teachers - labels).max() > 0.1  # the teachers are not their labels
    assert np.allclose(data["train"].soft_targets, 0.75 * labels + 0.25 * teachers, atol=1e-6)
    with pytest.raises(ValueError, match="distill_weight"):
        train(toy_dataset(), small_config(), TrainOptions(**{**one_step.__dict__, "distill_teachers": tuple(paths)}),
              tmp_path / "student.pt", show_progress=False)


def test_ensemble_teachers_train_on_the_students_split_then_teach_it(tmp_path, monkeypatch):
    """ensemble_teachers (the sixteenth round): N teachers (seeds seed..seed + N - 1) trained on
    the run's own training texts, then the run as their student, half its targets from them."""
    from edgelstm.train import distill
    from edgelstm.train.trainer import ENSEMBLE_DISTILL_WEIGHT, _split_parts

    asked: list[tuple[tuple[str, ...], list[str]]] = []
    real = distill.teacher_probabilities
    monkeypatch.setattr(distill, "teacher_probabilities",
                        lambda teachers, train_part, labels, texts: asked.append((tuple(teachers), list(texts)))
                        or real(teachers, train_part, labels, texts))
    options = TrainOptions(epochs=1, batch_size=256, learning_rate=0.05, keep="last", seed=3, ensemble_teachers=2)
    trained: list[tuple[int, int]] = []
    real_train = train

    def counting_train(dataset, config, run_options, output, **kwargs):
        trained.append((run_options.seed, len(dataset.train)))
        return real_train(dataset, config, run_options, output, **kwargs)

    monkeypatch.setattr("edgelstm.train.trainer.train", counting_train)
    counting_train(toy_dataset(), small_config(), options, tmp_path / "student.pt", show_progress=False)
    train_part, _ = _split_parts(toy_dataset(), options, None, None, np.random.default_rng(3))
    # the student's call, its two teachers on its training texts (seeds 3 and 4), the student itself
    everything = len(toy_dataset().train)
    assert len(train_part) < everything
    assert trained == [(3, everything), (3, len(train_part)), (4, len(train_part)), (3, everything)]
    ((teachers, texts),) = asked
    assert len(teachers) == 2 and texts == list(train_part.texts)
    saved = load_checkpoint(tmp_path / "student.pt")["config"]["metrics"]
    assert saved["ensemble_teachers"] == 2 and saved["distill_weight"] == ENSEMBLE_DISTILL_WEIGHT
    trained.clear()
    with pytest.raises(DataError, match="nothing to resume"):  # a finished student: said before any teacher trains
        counting_train(toy_dataset(), small_config(), options, tmp_path / "student.pt", resume=True,
                       show_progress=False)
    assert trained == [(3, len(toy_dataset().train))]
    trained.clear()
    (tmp_path / "notes.txt").write_text("not a checkpoint")
    with pytest.raises(InputError):  # a file training may not replace: refused before any teacher trains
        counting_train(toy_dataset(), small_config(), options, tmp_path / "notes.txt", show_progress=False)
    assert trained == [(3, len(toy_dataset().train))]
    with pytest.raises(DataError, match="--distill-weight"):  # a flag's conflict: the CLI's one-line error
        real_train(toy_dataset(), small_config(), TrainOptions(**{**options.__dict__, "distill_weight": 0.3}),
                   tmp_path / "other.pt", show_progress=False)


def test_more_than_two_labels_get_a_softmax(tmp_path):
    data = LabeledTexts()
    for i in range(90):
        label = ["a", "b", "c"][i % 3]
        data.add(f"{label}{label} word{label} " * (1 + i % 4), label)
    model, _ = train(Dataset(data), small_config(), TrainOptions(epochs=1), tmp_path / "m.pt", show_progress=False)
    assert model.config.labels == ["a", "b", "c"] and model.head[-1].out_features == 3
    assert isinstance(model, TextClassifier)


@pytest.mark.slow  # two CLI training runs and a killed one
def test_killed_training_leaves_a_whole_checkpoint_and_resumes_exactly(tmp_path):
    """SIGKILL mid-run: the checkpoint on disk is complete, and --resume ends where an
    uninterrupted run with the same seed ends, weight for weight."""
    import signal
    import subprocess
    import sys
    import time

    data = tmp_path / "toy.txt"
    dataset = toy_dataset(1500)
    data.write_text("".join(f"__label__{y} {x}\n" for x, y in zip(dataset.train.texts, dataset.train.labels)))
    args = ["train", str(data), "--epochs", "6", "--patience", "6",
            "--vocab-size", "30", "--max-len", "20", "--embed-dim", "8", "--hidden", "8", "--dense", "8",
            "--seed", "11", "--no-progress"]
    killed = tmp_path / "killed.pt"
    process = subprocess.Popen([sys.executable, "-m", "edgelstm.cli", *args, "-o", str(killed)],
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if killed.exists() and (load_checkpoint(killed)["resume"] or {}).get("epoch", 0) >= 2:
                break
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    state = load_checkpoint(killed)  # whole and readable
    stopped_after = state["resume"]["epoch"]
    assert 2 <= stopped_after < 6, "the run was not interrupted partway"
    assert [h["epoch"] for h in state["history"]] == list(range(1, stopped_after + 1))

    resumed = run_cli(*args, "-o", killed, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming after epoch {stopped_after}" in resumed.stderr
    straight = run_cli(*args, "-o", tmp_path / "straight.pt")
    assert straight.returncode == 0, straight.stderr
    a, b = load_checkpoint(killed), load_checkpoint(tmp_path / "straight.pt")
    # short texts: the default recipe's student, whose teachers the resumed run trained again
    assert a["config"]["metrics"]["ensemble_teachers"] == SHORT_TEXT_ENSEMBLE_TEACHERS
    assert [h["epoch"] for h in a["history"]] == list(range(1, 7)) and a["resume"] is None
    for name, tensor in b["state_dict"].items():
        assert torch.equal(a["state_dict"][name], tensor), name


def test_train_files_is_the_command_as_one_call(tmp_path):
    """`edgelstm train`'s decisions are the library's train_files: the preset fills what is unset,
    the inputs are never overwritten, option conflicts are refused before any work."""
    from edgelstm.errors import InputError
    from edgelstm.train.run import train_files

    data = tmp_path / "reviews.txt"
    rng = __import__("random").Random(0)
    data.write_text("".join(f"__label__pos {' '.join(rng.choices(POSITIVE, k=8))}\n"
                            f"__label__neg {' '.join(rng.choices(NEGATIVE, k=8))}\n" for _ in range(60)))
    with pytest.raises(ValueError, match="not both"):
        train_files(data, tmp_path / "m.pt", val=data, val_groups=data)
    with pytest.raises(ValueError, match="give those too"):
        train_files(data, tmp_path / "m.pt", teachers=["ngram"])
    with pytest.raises(InputError, match="inputs"):
        train_files(data, data)
    settings = {"epochs": 1, "hidden": 4, "embed_dim": 4, "dense": 0, "max_len": 20, "vocab_size": 50, "arch": "lstm"}
    model = train_files(data, tmp_path / "m.pt", preset="keras-imdb", settings=settings, show_progress=False)
    assert (model.config.arch, model.config.hidden, model.config.dropout) == ("lstm", 4, 0.2)  # dropout: the preset's
    assert load_checkpoint(tmp_path / "m.pt")["config"]["hidden"] == 4
