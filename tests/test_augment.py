"""train.augment: perturbed copies of training texts for a student (the twenty-first round)."""

from __future__ import annotations

from edgelstm.tokenizer import words
from edgelstm.train.augment import MASK_WORD, MAX_SPAN, perturbed_copies

TEXTS = [
    "The battery lasts all day, and the screen is bright.",
    "Great.",
    "I wouldn't buy it again <br /> at any price",
    "too loud",
    "Setup took five minutes and the sound is clear and full from the first song.",
]


def test_each_copy_is_a_shorter_phrase_or_the_text_with_words_masked():
    copies = perturbed_copies(TEXTS * 20, copies=2, seed=3)
    originals = [words(t) for t in TEXTS * 20 if len(words(t)) >= 2]
    assert len(copies) == 2 * len(originals)  # one-word texts have no copy
    phrases = masked = 0
    for copy, tokens in zip(copies, [t for t in originals for _ in range(2)]):
        got = words(copy)
        assert copy == " ".join(got)  # words-v1 reads the copy back as written
        if MASK_WORD in got:
            masked += 1
            assert len(got) == len(tokens)
            assert all(g == t for g, t in zip(got, tokens) if g != MASK_WORD)
        else:
            phrases += 1
            assert 1 <= len(got) <= min(MAX_SPAN, len(tokens) - 1)
            assert any(tokens[i : i + len(got)] == got for i in range(len(tokens)))
    assert phrases and masked


def test_the_same_seed_gives_the_same_copies_and_another_seed_others():
    assert perturbed_copies(TEXTS, 3, seed=1) == perturbed_copies(TEXTS, 3, seed=1)
    assert perturbed_copies(TEXTS, 3, seed=1) != perturbed_copies(TEXTS, 3, seed=2)
