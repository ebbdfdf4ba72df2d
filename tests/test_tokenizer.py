"""Golden vectors for the words-v1 tokenizer: any reimplementation must give these ids."""

import pytest

from edgelstm.tokenizer import OOV_ID, Tokenizer, build_vocabulary, pad_batch, words

VOCABULARY = ["the", "movie", "was", "great", "don't", "film", "bad", "it", "電影"]
GOLDEN_WORDS = [
    ("The movie was GREAT!", ["the", "movie", "was", "great"]),
    ("Great film.<br /><br />Bad acting", ["great", "film", "bad", "acting"]),
    ("don't stop—it's 10/10", ["don't", "stop", "it's", "10", "10"]),
    ("don’t", ["don't"]),  # right single quote is an apostrophe
    ("'quoted' words_with_underscores", ["quoted", "words", "with", "underscores"]),
    ("ﬁlm Ｇｒｅａｔ", ["film", "great"]),  # NFKC: ligature and full-width letters
    ("Caf\u00e9 cafe\u0301", ["caf\u00e9", "caf\u00e9"]),  # composed and decomposed é are one word
    ("這部電影 😀 great", ["這部電影", "great"]),
    ("<BR/>x<br>y", ["x", "y"]),
    ("   ", []),
]
GOLDEN_IDS = [
    ("The movie was great", [2, 3, 4, 5]),
    ("It was a BAD film!", [9, 4, OOV_ID, 8, 7]),
    ("don't", [6]),
    ("", [OOV_ID]),  # no word at all: one unknown token, so every text gets an answer
    ("!!! 😀", [OOV_ID]),
]


@pytest.mark.parametrize(("text", "expected"), GOLDEN_WORDS)
def test_words_golden(text, expected):
    assert words(text) == expected


@pytest.mark.parametrize(("text", "expected"), GOLDEN_IDS)
def test_encode_golden(text, expected):
    assert Tokenizer(VOCABULARY, max_len=10).encode(text) == expected


def test_long_texts_keep_their_last_tokens():
    tokenizer = Tokenizer(VOCABULARY, max_len=3)
    assert tokenizer.encode("the movie was great film bad") == [5, 7, 8]


def test_vocabulary_is_by_frequency_then_alphabet():
    texts = ["b a c", "c b", "c d", "a"]
    assert build_vocabulary(texts, vocab_size=5) == ["c", "a", "b"]
    assert build_vocabulary(texts, vocab_size=100) == ["c", "a", "b", "d"]


def test_pad_batch_right_pads_and_reports_lengths():
    ids, lengths = pad_batch([[5, 6, 7], [8]])
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0]]
    assert lengths.tolist() == [3, 1]
