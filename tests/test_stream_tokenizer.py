"""The chunk-safe tokenizer: any cutting of a text gives the words-v1 words of the whole text."""

import itertools
import random

from hypothesis import example, given, settings
from hypothesis import strategies as st

from edgelstm.tokenizer import WordStream, words

# Pieces chosen to sit on every rule a cut can break: line break tags in their spellings (also
# fullwidth, which NFKC turns into ASCII), apostrophes inside words (ASCII and U+2019), CRLF and
# other whitespace, combining marks (NFKC composes them with the letter before), ligatures and
# fractions (NFKC expands them), the final sigma (str.lower reads the next letter), underscores,
# Unicode whitespace that a line break tag may hold but that is no cut point, and "<br/ >".
FRAGMENTS = [
    "a", "b", "r", "br", "film", "don", "'", "\u2019", "t", " ", "  ", "\n", "\r\n", "\r", "\t", "\f",
    "<", ">", "/", "<br", "<br>", "<br/>", "<br />", "<BR  \n />", "<br\t/>", "\uff1c\uff42\uff52\uff1e",
    "\u3000", "\xa0", "e\u0301", "\u0301", "\u0327", "\ufb01", "\u00bd", "\u2460", "\u03a3", "\u039f\u0394",
    "_", "7", "-", ".", ",", "\u00e9", "\u1100", "\u1161", "\u00c5", "\u0130", "<b", "r>", "/>",
    "\x85", "\u2028", "\x1c", "<br/", " >",
]

texts = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=3), max_size=40).map("".join)


def stream_words(text: str, cuts: list[int]) -> list[str]:
    """Words of ``text`` fed in the pieces between ``cuts``: final ones, then the held ones."""
    stream = WordStream()
    found: list[str] = []
    bounds = [0, *sorted(cuts), len(text)]
    for start, end in itertools.pairwise(bounds):
        found += stream.feed(text[start:end])
        # At every point, final + held words are the words of the text so far.
        assert found + stream.held_words == words(text[:end])
    return found + stream.held_words


@settings(max_examples=600, deadline=None)
@given(text=texts, data=st.data())
@example(text="don't<br />stop", data=None)
@example(text="\u039f\u03a3 \u039f\u03a3\u0391", data=None)
def test_any_chunking_gives_the_words_of_the_whole_text(text, data):
    if data is None:
        cut_sets = [[i] for i in range(len(text) + 1)]  # every single cut of the examples
    else:
        cut_sets = [data.draw(st.lists(st.integers(0, len(text)), max_size=12))]
    for cuts in cut_sets:
        assert stream_words(text, cuts) == words(text)


def test_one_character_at_a_time_and_cuts_at_each_tricky_place():
    text = "It\u2019s GOOD<BR />\r\nna\u00efve\u0301 \ufb01lm <br\n/>ΟΔΟΣ ΟΔΟΣΑ don't<br"
    assert stream_words(text, list(range(len(text)))) == words(text)
    for cut in range(len(text) + 1):
        assert stream_words(text, [cut]) == words(text)


def test_feed_returns_only_words_that_later_text_cannot_change():
    stream = WordStream()
    assert stream.feed("grea") == [] and stream.held_words == ["grea"]
    assert stream.feed("t movie <br") == ["great", "movie"]  # "<br" may still become a tag
    assert stream.held_words == ["br"]
    assert stream.feed(" />fine") == []
    assert stream.feed("\n") == ["fine"] and stream.held_words == []
    stream.reset()
    assert stream.feed("x") == [] and stream.held_words == ["x"]


def test_random_chunkings_of_real_reviews(imdb):
    rng = random.Random(12)
    reviews = imdb.evaluation_split.sample(2000, seed=12).texts
    for text in reviews:
        for n_cuts in (1, 10, 60):
            cuts = [rng.randrange(len(text) + 1) for _ in range(n_cuts)]
            stream = WordStream()
            found: list[str] = []
            bounds = [0, *sorted(cuts), len(text)]
            for start, end in itertools.pairwise(bounds):
                found += stream.feed(text[start:end])
            assert found + stream.held_words == words(text)
