"""tokenizer.json (Hugging Face format) gives words-v1's ids: golden vectors, export, IMDB."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgelstm.classifier import SHIPPED_DIR
from edgelstm.data import LabeledTexts
from edgelstm.tokenizer import Tokenizer

tokenizers = pytest.importorskip("tokenizers")
tokenizer_json_module = pytest.importorskip("edgelstm.export.tokenizer_json")
from edgelstm.export.tokenizer_json import (
    EDGE_CASES,
    TokenizerJsonError,
    check_tokenizer_json,
    encode_with,
    tokenizer_json,
    write_tokenizer_json,
)

GOLDEN = Path(__file__).parent / "data" / "golden-tokenizer.json"


@pytest.fixture(scope="module")
def golden():
    return json.loads(GOLDEN.read_text(encoding="utf-8"))


def test_golden_file_covers_the_edge_cases(golden):
    texts = [case["text"] for case in golden["cases"]]
    assert set(EDGE_CASES) <= set(texts)
    assert any(len(case["ids"]) == golden["max_len"] for case in golden["cases"])  # truncation
    assert {"text": "", "ids": [1]} in golden["cases"]


def test_words_v1_gives_the_golden_ids(golden):
    tokenizer = Tokenizer(golden["vocabulary"], golden["max_len"])
    for case in golden["cases"]:
        assert tokenizer.encode(case["text"]) == case["ids"], case["text"]


def test_golden_tokenizer_json_is_what_export_writes_today(golden):
    # the JS tests read the embedded document, so it must not go stale
    assert golden["tokenizer_json"] == json.loads(json.dumps(tokenizer_json(golden["vocabulary"], golden["max_len"])))


def test_hf_tokenizers_give_the_golden_ids(golden, tmp_path):
    path = tmp_path / "tokenizer.json"
    write_tokenizer_json(path, golden["vocabulary"], golden["max_len"])
    hf = tokenizers.Tokenizer.from_file(str(path))
    texts = [case["text"] for case in golden["cases"]]
    assert encode_with(hf, texts) == [case["ids"] for case in golden["cases"]]


def _without_final_sigma_fix(vocabulary, max_len):
    document = tokenizer_json(vocabulary, max_len)
    normalizers = document["normalizer"]["normalizers"]
    document["normalizer"]["normalizers"] = [n for n in normalizers if n.get("content") != "ς"]
    return document


def test_check_fails_with_a_named_error_on_a_difference(golden, tmp_path):
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(_without_final_sigma_fix(golden["vocabulary"], golden["max_len"])), encoding="utf-8")
    tokenizer = Tokenizer(golden["vocabulary"], golden["max_len"])
    with pytest.raises(TokenizerJsonError, match="differs from words-v1"):
        check_tokenizer_json(path, tokenizer, [])


def _checkpoint(path: Path, vocabulary: list[str], held_out: list[str]) -> Path:
    from edgelstm.config import ModelConfig
    from edgelstm.train.checkpoint import save_checkpoint
    from edgelstm.train.model import TextClassifier

    config = ModelConfig(
        arch="bilstm", vocab_size=len(vocabulary) + 2, max_len=12, embed_dim=4, hidden=3, vocabulary=vocabulary
    )
    save_checkpoint(
        path, TextClassifier(config), [], held_out=LabeledTexts(held_out, ["neg", "pos"] * (len(held_out) // 2))
    )
    return path


def test_export_writes_a_checked_tokenizer_json_beside_the_model(tmp_path):
    pytest.importorskip("torch")
    from edgelstm.export import export_checkpoint

    vocabulary = ["good", "bad", "film", "ς", "σ"]
    checkpoint = _checkpoint(tmp_path / "model.pt", vocabulary, ["A good film.", "ΟΔΟΣ bad<br />film"])
    written, _ = export_checkpoint(checkpoint, tmp_path / "out")
    assert tmp_path / "out" / "tokenizer.json" in written
    hf = tokenizers.Tokenizer.from_file(str(tmp_path / "out" / "tokenizer.json"))
    assert encode_with(hf, ["A GOOD film!", "ΑΣ Σ"]) == [[1, 2, 4], [1, 6]]


def test_export_fails_and_writes_nothing_when_tokenizer_json_differs(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    from edgelstm.export import export_checkpoint

    monkeypatch.setattr(tokenizer_json_module, "tokenizer_json", _without_final_sigma_fix)
    checkpoint = _checkpoint(tmp_path / "model.pt", ["οδος", "οδοσ"], ["ΟΔΟΣ", "ΑΣ"])
    with pytest.raises(TokenizerJsonError):
        export_checkpoint(checkpoint, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []  # neither tokenizer.json nor model.onnx


def test_all_imdb_test_reviews_get_identical_ids(imdb, tmp_path):
    """The shipped model's vocabulary on every IMDB test review (25,000 with the full archive)."""
    from edgelstm import Classifier

    config = Classifier.default().config
    path = SHIPPED_DIR / "sentiment-en.tokenizer.json"  # shipped beside the model (web/ serves it)
    texts = imdb.evaluation_split.texts
    assert check_tokenizer_json(path, Tokenizer(config.vocabulary, config.max_len), texts) == len(texts) + len(
        EDGE_CASES
    )
