"""The ASCII fast path of the tokenizer gives exactly the ids of the words-v1 rule (``words``)."""

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgelstm.tokenizer import OOV_ID, Tokenizer, ascii_words, words

# Every ASCII character, with the ones the rule treats specially made frequent.
_PIECES = st.one_of(
    st.characters(min_codepoint=0, max_codepoint=127),
    st.sampled_from(["'", "''", "<br>", "<BR/>", "<br />", "<bR \x1c\x1f/>", "<br", "/>", "_", "don't", "A'B"]),
)
VOCABULARY = ["don't", "a'b", "br", "x", "10", "the", "a", "b", "caf\u00e9"]


def _reference_ids(tokenizer: Tokenizer, text: str) -> list[int]:
    return tokenizer.ids(words(text))[-tokenizer.max_len :] or [OOV_ID]


@settings(max_examples=500, deadline=None)
@given(st.lists(_PIECES, max_size=40).map("".join))
def test_ascii_words_are_the_words_of_the_rule(text):
    assert [w.decode() for w in ascii_words(text)] == words(text)


@settings(max_examples=200, deadline=None)
@given(st.lists(_PIECES, max_size=60).map("".join), st.integers(1, 8))
def test_ascii_ids_are_the_ids_of_the_rule(text, max_len):
    tokenizer = Tokenizer(VOCABULARY, max_len)
    assert tokenizer.encode(text) == _reference_ids(tokenizer, text)


def test_golden_edge_cases_give_the_same_ids():
    golden = json.loads((Path(__file__).parent / "data" / "golden-tokenizer.json").read_text(encoding="utf-8"))
    tokenizer = Tokenizer(golden["vocabulary"], golden["max_len"])
    cases = golden["cases"]
    assert any(case["text"].isascii() for case in cases)
    for case in cases:
        assert tokenizer.encode(case["text"]) == case["ids"] == _reference_ids(tokenizer, case["text"])


def test_a_long_ascii_text_keeps_its_last_words():
    tokenizer = Tokenizer(VOCABULARY, max_len=2)
    text = "the " * 10_000 + "don't x"  # longer than max_len * 32 characters: the tail decides
    assert tokenizer.encode(text) == [2, 5] == _reference_ids(tokenizer, text)


@pytest.mark.slow
def test_every_imdb_test_review_gets_the_ids_of_the_rule(imdb):
    from edgelstm import Classifier

    tokenizer = Classifier.default().tokenizer
    texts = imdb.evaluation_split.texts
    different = [i for i, text in enumerate(texts) if tokenizer.encode(text) != _reference_ids(tokenizer, text)]
    assert sum(text.isascii() for text in texts) > 0.8 * len(texts)
    assert different == []
