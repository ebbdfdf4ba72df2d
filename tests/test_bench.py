"""The benchmark script runs (on a small model and a few texts); its numbers are not asserted."""

import sys

import pytest

from edgelstm.tokenizer import words
from tests.helpers import IMDB, REPO, needs_imdb, run_python

pytest.importorskip("torch")


def test_benchmark_script_writes_its_table(trained, tmp_path):
    from edgelstm.export.quantize import DEFAULT_RECIPE, RECIPES_BY_NAME, quantize

    checkpoint, fp32 = trained["lstm"]
    int8 = tmp_path / "model.int8.onnx"
    quantize(fp32, int8, RECIPES_BY_NAME[DEFAULT_RECIPE])
    out = tmp_path / "RESULTS.md"
    result = run_python(REPO / "benchmarks/bench_runtime.py", checkpoint, fp32, int8,
                        "--data", IMDB, "--limit", 100, "--large-file", 300, "--train-limit", 500, "--graphs",
                        "--out", out)
    assert result.returncode == 0, result.stderr
    report = out.read_text()
    for row in ["PyTorch eager (.pt)", "onnxruntime fp32", f"onnxruntime int8 ({DEFAULT_RECIPE})",
                "OpenVINO f32", "tract", "fastText (.ftz", "`Tokenizer.encode_many`", "Hugging Face `tokenizers`",
                "a backend that sleeps", "one process per core", "matmul peak", "past its start-up",
                "LSTM `lstm`", "`Classifier.predict`", "`edgelstm predict FILE`", "Cold start of", "import torch",
                "`edgelstm predict FILE`, 100 lines (process", "`edgelstm predict FILE`, 300 lines (process",
                "portable (format 2)", "sequence_lens (format 1)"]:
        assert row in report


def _load_benchmark(name: str):
    """A script of benchmarks/ as a module (benchmarks/ is not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"{name}_bench", REPO / f"benchmarks/{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as an import would: a dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


def test_blend_script_chooses_a_on_the_texts_given():
    """benchmarks/blend.py: the losses are the models', ties keep the smallest ``a``, and the
    half-split check scores each text by an ``a`` chosen without it."""
    import numpy as np
    import torch

    blend = _load_benchmark("blend")
    rng = np.random.default_rng(0)
    binary, targets = rng.normal(size=(50, 1)), rng.integers(0, 2, 50)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(torch.from_numpy(binary[:, 0]),
                                                                     torch.from_numpy(targets).double())
    assert abs(blend.log_loss(binary, targets) - float(expected)) < 1e-12
    three, labels = rng.normal(size=(50, 3)), rng.integers(0, 3, 50)
    expected = torch.nn.functional.cross_entropy(torch.from_numpy(three), torch.from_numpy(labels))
    assert abs(blend.log_loss(three, labels) - float(expected)) < 1e-12
    for rule in ("accuracy", "logloss"):  # the same logits twice: every a ties, the smallest is kept
        assert blend.choose(binary, binary, targets, rule) == 0.0
    right = np.where(targets[:, None] == 1, 2.0, -2.0)  # the linear model right, the default wrong
    # all right from a = 0.6 on (the linear logits outweigh): the smallest such a
    assert blend.choose(-right, right, targets, "accuracy") == 0.6
    # the default right on the seeded halving's first half only, the linear model on the second:
    # each half's a (0 or >= 0.6) is wrong on the other half, so the check scores no text right
    first = np.zeros(50, bool)
    first[np.random.default_rng(0).permutation(50)[:25]] = True
    deep = np.where(first[:, None], right, -right)
    correct, default_correct, chosen = blend.halves(deep, -deep, targets, "accuracy", seed=0)
    assert (correct, default_correct) == (0, 25) and chosen[0] == 0.0 and chosen[1] >= 0.6


def test_refit_runs_exactly_the_epochs_on_the_recipes_schedule(tmp_path):
    """A refit (the trainer's, and benchmarks/blend.py --refit) trains for exactly E epochs, keeps
    the last (no validation, no early stopping), and follows the first E epochs of the full
    recipe's cosine schedule (``schedule_epochs``), not a cosine squeezed into E epochs."""
    from dataclasses import replace

    import numpy as np

    from edgelstm.data import LabeledTexts
    from edgelstm.train.model import TextClassifier
    from edgelstm.train.presets import resolve
    from edgelstm.train.trainer import _optimizer

    blend = _load_benchmark("blend")
    config, options = resolve("default", arch="lstm", threads=1, vocab_size=200, max_len=20, embed_dim=8,
                              hidden=8, dense=8)
    short = replace(options, epochs=2)
    _, squeezed = _optimizer(TextClassifier(replace(config, labels=["a", "b"])), short, 64)
    _, full = _optimizer(TextClassifier(replace(config, labels=["a", "b"])), replace(short, schedule_epochs=10), 64)
    # the learning rate's share after two epochs of one batch (64 texts) each
    assert squeezed.lr_lambdas[0](2) == 0.0  # the end of a 2-epoch cosine
    assert abs(full.lr_lambdas[0](2) - 0.5 * (1 + np.cos(np.pi * 2 / 10))) < 1e-12  # 2 of 10 epochs

    words = ["good fine great", "bad awful poor"]
    part = LabeledTexts([f"{words[i % 2]} w{i}" for i in range(40)], ["pos", "neg"] * 20)
    model = blend.refit(part, config, options, 3, tmp_path / "refit.pt")
    assert model.config.metrics["epochs_run"] == 3 and model.config.metrics["best_epoch"] == 3
    assert model.config.metrics["train_examples"] == 40  # no validation split taken off


def test_recipes_pairs_each_model_with_the_best_baseline_text_by_text():
    """benchmarks/recipes.py's paired table: against the most accurate baseline of the set, the
    texts only one of the two gets right, and McNemar's exact p (2 against 4 such texts: twice
    P(X <= 2) for X ~ Binomial(6, 1/2), 2 * 22 / 64 = 0.69)."""
    pytest.importorskip("scipy")
    recipes = _load_benchmark("recipes")
    labels = list("aaaaaabbbb")
    rows = [
        {"set": "x", "model": "edgelstm lstm", "int8_accuracy": 0.6, "test_predicted": list("aaaaabbaaa")},
        {"set": "x", "model": "weak", "test_accuracy": 0.3, "test_predicted": list("bbbbbbbbba")},
        {"set": "x", "model": "strong", "test_accuracy": 0.8, "test_predicted": list("abbaaabbbb")},
    ]
    # edgelstm right on texts 0 1 2 3 4 6, strong on 0 3 4 5 6 7 8 9: only ours 1 2, only theirs 5 7 8 9
    table = recipes.paired_table(rows, {"x": labels}).splitlines()
    assert table[2] == "| x | edgelstm lstm | strong | 2 | 4 | -2 | 0.69 |"
    rows[0]["test_predicted"] = list("aabbbbbbbb")  # right on 0 1 6 7 8 9: only ours 1, only theirs 3 4 5
    assert recipes.paired_table(rows, {"x": labels}).splitlines()[2].endswith("| 1 | 3 | -2 | 0.62 |")


def test_blend_script_trains_the_model_before_the_blend():
    """benchmarks/blend.py blends the model itself: the "default" it trains must be the recipe's
    model before the recipe's own blend (else it would blend a blended model)."""
    from edgelstm.train.presets import ADAPTIVE_PRESET, resolve

    blend = _load_benchmark("blend")
    assert resolve(ADAPTIVE_PRESET)[1].blend
    assert not resolve(ADAPTIVE_PRESET, **blend.BEFORE_BLEND)[1].blend


@pytest.mark.parametrize(("arch", "bigrams", "projection"), [("bilstm", 0, "table"), ("bilstm", 16, "table"),
                                                           ("lstm", 16, "table"), ("bilstm", 16, "matmul"),
                                                           ("lstm", 0, "matmul")])
def test_scan_graph_gives_the_exported_graphs_answers(arch, bigrams, projection):
    """benchmarks/scan_graph.py (the Scan over precomputed gates, or over gates projected per batch
    with --projection matmul, timed against the export): the same logits as the exported graph
    within 1e-5, and as the float64 PyTorch model, on a batch of mixed lengths (one real step to
    none padded), so its timings compare two equal models."""
    import numpy as np
    import onnxruntime as ort
    import torch

    from edgelstm.config import ModelConfig
    from edgelstm.export.graph import build_onnx
    from edgelstm.train.model import TextClassifier

    scan_graph = _load_benchmark("scan_graph")
    torch.manual_seed(0)
    config = ModelConfig(arch=arch, vocab_size=300, max_len=50, embed_dim=12, hidden=8, wide=True,
                         wide_bigrams=bigrams, labels=["a", "b", "c"])
    model = TextClassifier(config).eval()
    with torch.no_grad():
        for weight in model.parameters():  # the table starts at zero and the forget bias at 1: stir them
            weight.add_(torch.randn_like(weight) * 0.3)
    rng = np.random.default_rng(0)
    lengths = np.array([30, 1, 5, 17, 29, 2], np.int64)
    ids = rng.integers(2, 300, (6, 30)).astype(np.int64) * (np.arange(30)[None, :] < lengths[:, None])
    feeds = {"input_ids": ids, "lengths": lengths}
    exported = ort.InferenceSession(build_onnx(model).SerializeToString()).run(["logits"], feeds)[0]
    scan_onnx = scan_graph.build_scan_onnx(model, projection).SerializeToString()
    scan = ort.InferenceSession(scan_onnx).run(["logits"], feeds)[0]
    with torch.no_grad():
        exact = model.double()(torch.from_numpy(ids), torch.from_numpy(lengths)).numpy()
    assert np.abs(scan - exported).max() < 1e-5 and np.abs(scan - exact).max() < 1e-5


AUGMENT_TEXTS = [
    "The battery lasts all day, and the screen is bright.",
    "Great.",
    "I wouldn't buy it again <br /> at any price",
    "too loud",
    "Setup took five minutes and the sound is clear and full from the first song.",
]


def test_blend_script_copies_each_text_as_a_shorter_phrase_or_with_words_masked():
    """benchmarks/blend.py --augment-too (the twenty-first round): each copy reads back as written,
    and is a phrase of the text shorter than it, or the text with words masked."""
    blend = _load_benchmark("blend")
    perturbed_copies = blend.perturbed_copies
    copies = perturbed_copies(AUGMENT_TEXTS * 20, copies=2, seed=3)
    originals = [words(t) for t in AUGMENT_TEXTS * 20 if len(words(t)) >= 2]
    assert len(copies) == 2 * len(originals)  # one-word texts have no copy
    phrases = masked = 0
    for copy, tokens in zip(copies, [t for t in originals for _ in range(2)]):
        got = words(copy)
        assert copy == " ".join(got)  # words-v1 reads the copy back as written
        if blend.MASK_WORD in got:
            masked += 1
            assert len(got) == len(tokens)
            assert all(g == t for g, t in zip(got, tokens) if g != blend.MASK_WORD)
        else:
            phrases += 1
            assert 1 <= len(got) <= min(blend.MAX_SPAN, len(tokens) - 1)
            assert any(tokens[i : i + len(got)] == got for i in range(len(tokens)))
    assert phrases and masked


def test_blend_script_copies_the_same_for_the_same_seed():
    perturbed_copies = _load_benchmark("blend").perturbed_copies
    assert perturbed_copies(AUGMENT_TEXTS, 3, seed=1) == perturbed_copies(AUGMENT_TEXTS, 3, seed=1)
    assert perturbed_copies(AUGMENT_TEXTS, 3, seed=1) != perturbed_copies(AUGMENT_TEXTS, 3, seed=2)


def test_blend_script_linear_refit_table_pairs_each_student_with_itself():
    """benchmarks/blend.py --linear-refit-too (the twenty-third round): per seed, the blend with
    the refit linear model minus the same student's blend today, in texts of B."""
    table = _load_benchmark("blend").linear_refit_table
    rows = [{"set": "cr", "arch": "lstm", "seed": seed, "b_texts": 200, "linear_b": 0.8, "linear_refit_b": 0.81,
             "variant_blend_logloss": {"a": 0.5, "b": today}, "linear_refit_blend": {"a": 0.5, "b": refit}}
            for seed, today, refit in ((0, 0.80, 0.805), (1, 0.82, 0.81), (2, 0.81, 0.81))]
    line = table(rows).splitlines()[-1]
    assert line.startswith("| cr | lstm | 0 1 2 | 200 | 80.00% | 81.00% | 81.00% (80.00%..82.00%) | ")
    assert line.endswith(" | +1, -2, +0 |")


def test_imdb_sweeps_run_their_rows_through_the_trainer(tmp_path):
    """benchmarks/imdb_sweeps.py: a student row (unlabeled reviews, the bigram n-gram teacher) runs
    the trainer with its settings, on a --limit folder of its own, restores the n-gram teacher's
    settings, and reads its numbers back without training again."""
    pytest.importorskip("sklearn", reason="the n-gram teacher needs scikit-learn (distill extra)")
    needs_imdb()
    from edgelstm.train.distill import NgramOptions

    sweeps = _load_benchmark("imdb_sweeps")
    # the work folder's vectors are reused (make_default_model.sh's step 1): a small file here
    (tmp_path / "imdb-vectors.vec").write_text("2 4\nthe 1 0 0 0\nmovie 0 1 0 0\n")
    row = next(r for r in sweeps.STUDENT_ROWS if r.name == "64-ngram-bigrams")
    before = NgramOptions.max_n, NgramOptions.inverse_regularization
    result = sweeps.run_row(row, "students", tmp_path, sweeps.archives(IMDB.parent), "cpu", 40, again=False)
    assert (NgramOptions.max_n, NgramOptions.inverse_regularization) == before
    model = tmp_path / "students-limit40" / row.name / "model.pt"
    assert model.exists() and not (tmp_path / "students" / row.name).exists()
    assert result["epochs"] == 6 and result["kept_epoch"] == 6 and result["test_texts"] == 40
    assert result["settings"]["hidden"] == "64" and result["train_seconds"] is not None
    again = sweeps.run_row(row, "students", tmp_path, sweeps.archives(IMDB.parent), "cpu", 40, again=False)
    assert again["train_seconds"] is None and again["test"] == result["test"]
    assert f"| {row.label} | " in sweeps.table("students", [result])
    assert len({r.name for r in sweeps.STUDENT_ROWS}) == len(sweeps.STUDENT_ROWS)
