"""The tokenizer's fast paths (ASCII texts one by one; many texts at once, ``encode_many``) give
exactly the ids of the words-v1 rule (``words``)."""

import json
import os
import shutil
import subprocess
import sysconfig
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import edgelstm.tokenizer as tokenizer_module
from edgelstm.tokenizer import MANY_TEXTS, OOV_ID, Tokenizer, ascii_words, pad_batch, words

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


# encode_many: the rule over many texts at once, in C (edgelstm._words) or, where that extension
# is not built, in numpy passes: each test of encode_many runs on both.
PATHS = ["c", "numpy"]


@contextmanager
def _on(path):
    """encode_many on that path (the C one skips where the extension is not built)."""
    if path == "numpy":
        with mock.patch.object(tokenizer_module, "_native", None):
            yield
        return
    if tokenizer_module._native is None:
        pytest.skip("edgelstm._words is not built (no C compiler at install): the numpy path alone")
    yield


def test_the_c_extension_is_built_where_ci_requires_it():
    """.ci/run sets EDGELSTM_REQUIRE_EXTENSION=1: there, the C path must be the one in use."""
    if os.environ.get("EDGELSTM_REQUIRE_EXTENSION") != "1":
        pytest.skip("EDGELSTM_REQUIRE_EXTENSION is not 1 (CI sets it)")
    from edgelstm import _words

    assert tokenizer_module._native is _words
    tokenizer = Tokenizer(VOCABULARY, max_len=4)
    tokenizer.encode_many(["the x"] * MANY_TEXTS)
    assert tokenizer._c_table is not None and tokenizer._table is None


_UNICODE = st.sampled_from([
    "caf\u00e9", "CAF\u00c9", "cafe\u0301", "na\u00efve", "stra\u00dfe", "\u2019", "don\u2019t", "\u201c", "\u2014",
    "\u00a0", "\u2028", "\x85", "\u3000", "\ufb01lm", "\u212a", "\u00bd", "x\u00b2", "\u0130", "\u2026",
    "\u039f\u0394\u039f\u03a3", "\u9019\u90e8", "\U0001f600", "\uff1c\uff42\uff52\uff1e", "<br\u2028/>", "<br\u2014>",
    "\x00", "\ud800", "\u00e9'\u00e9", "\u0661\u0662",
])
_TEXT = st.lists(st.one_of(_PIECES, _UNICODE, st.characters()), max_size=60).map("".join)
# Words at the key parts' edges (7 and 14 bytes), non-ASCII ones, a duplicate, and words no text
# can have (upper case, a space, a slash, an underscore, a backtick): they get no id, shadow none.
WIDE_VOCABULARY = VOCABULARY + [
    "abcdefg", "abcdefgh", "abcdefghijklmn", "abcdefghijklmno", "caf\u00e9caf\u00e9ca", "na\u00efve", "stra\u00dfe",
    "\u9019\u90e8", "fi", "ok", "the", "Foo", "a b", "x/y", "a_b", "don`t", "foo", "\u03bf\u03b4\u03bf\u03c2",
]


def _many_reference(tokenizer: Tokenizer, texts: list[str]) -> list[list[int]]:
    return [_reference_ids(tokenizer, text) for text in texts]


@pytest.mark.parametrize("path", PATHS)
@settings(max_examples=300, deadline=None)
@given(texts=st.lists(_TEXT, min_size=MANY_TEXTS, max_size=40), max_len=st.integers(1, 8))
def test_encode_many_gives_the_ids_of_the_rule(path, texts, max_len):
    tokenizer = Tokenizer(WIDE_VOCABULARY, max_len)
    with _on(path):
        encoded = tokenizer.encode_many(texts)
    assert encoded.tolist() == _many_reference(tokenizer, texts)
    assert all(encoded.lengths >= 1)


_WORD_PIECE = st.text(st.sampled_from("abcxyz09'\u00e9\u9019"), min_size=1, max_size=24)


@pytest.mark.parametrize("path", PATHS)
@settings(max_examples=200, deadline=None)
@given(vocabulary=st.lists(_WORD_PIECE, max_size=300), data=st.data())
def test_encode_many_finds_every_word_of_a_vocabulary_and_nothing_else(path, vocabulary, data):
    """Many words of similar bytes: the table's collisions and every part count are exercised."""
    texts = data.draw(st.lists(st.lists(st.one_of(st.sampled_from(vocabulary or ["x"]), _WORD_PIECE),
                                        max_size=30).map(" ".join), min_size=MANY_TEXTS, max_size=30))
    tokenizer = Tokenizer(vocabulary, max_len=50)
    with _on(path):
        assert tokenizer.encode_many(texts).tolist() == _many_reference(tokenizer, texts)


# The C loop's edges: words, apostrophes and "<br" at a text's very start and end, texts of only
# separators, NULs, words longer than every vocabulary word (or one byte longer than one), and
# texts at the tail's length, read whole, or one character over it, read by their tail.
_EDGE = st.one_of(
    st.sampled_from(["'", "<", "<br", "<br ", "<br/", "<br />", "br>", "br", "'br", "<br'", "\x00", "\x00'\x00", " ",
                     "#", "/>", ">", "don't", "don'", "'t", "abcdefghijklmn", "abcdefghijklmno", "\u00e9", "\u2019"]),
    st.text(st.sampled_from("ab'\u00e9"), min_size=15, max_size=80),  # longer than every vocabulary word
    st.text(st.sampled_from(" \t\x00\x1f#<>/'"), max_size=8),  # separators only
)


@pytest.mark.parametrize("path", PATHS)
@settings(max_examples=300, deadline=None)
@given(texts=st.lists(st.lists(_EDGE, max_size=8).map("".join), min_size=MANY_TEXTS, max_size=24),
       max_len=st.integers(1, 4))
def test_encode_many_at_the_edges_of_texts_and_words(path, texts, max_len):
    tokenizer = Tokenizer(WIDE_VOCABULARY, max_len)
    tail = max_len * tokenizer_module._TAIL_CHARS_PER_WORD
    texts = texts + [("don't " * tail)[:tail], ("x " * tail)[: tail + 1], "<br" + " " * (tail - 3)]
    with _on(path):
        assert tokenizer.encode_many(texts).tolist() == _many_reference(tokenizer, texts)


_BASE = "abcdefghijklmnopqrstuvwx"  # words sharing their first bytes, across the 7-byte key parts


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("one_slot", [False, True])
def test_words_sharing_their_first_bytes_are_told_apart(one_slot, path, monkeypatch):
    """With one_slot, every word hashes to the same slot: each lookup walks the whole cluster and
    meets words that differ from it only in a later key part or in their length."""
    if one_slot:
        monkeypatch.setattr(tokenizer_module, "_HASH", np.zeros(4, np.uint64))
    vocabulary = [_BASE[:21], _BASE[:7], _BASE[:14], "\u00e9" * 4, "\u00e9" * 3 + "e", "abcdefg'hi"]
    vocabulary += [_BASE[:n] for n in (1, 6, 8, 13, 15, 20)]
    texts = [" ".join(_BASE[:n] + suffix for n in range(1, 25)) for suffix in ("", "x", "'s", "\u00e9", "\u00e9\u00e9")]
    texts += [" ".join(vocabulary), "\u00e9\u00e9\u00e9 \u00e9\u00e9\u00e9\u00e9\u00e9 abcdefg'h abcdefg'hij"] * 8
    tokenizer = Tokenizer(vocabulary, max_len=100)
    with _on(path):
        assert tokenizer.encode_many(texts).tolist() == _many_reference(tokenizer, texts)
    if one_slot and path == "numpy":  # the table is one run of full slots (in C: a multiplier of 0 does it)
        assert tokenizer._table is not None and tokenizer._table.probes == len(vocabulary)


@pytest.mark.parametrize("path", PATHS)
def test_encode_many_of_the_golden_edge_cases(path):
    golden = json.loads((Path(__file__).parent / "data" / "golden-tokenizer.json").read_text(encoding="utf-8"))
    tokenizer = Tokenizer(golden["vocabulary"], golden["max_len"])
    texts = [case["text"] for case in golden["cases"]]
    assert len(texts) >= MANY_TEXTS
    with _on(path):
        assert tokenizer.encode_many(texts).tolist() == [case["ids"] for case in golden["cases"]]


@pytest.mark.parametrize("path", PATHS)
def test_encode_many_of_few_texts_and_long_texts(path):
    tokenizer = Tokenizer(VOCABULARY, max_len=2)
    long = "the " * 10_000 + "don't x"  # read by its tail, as encode does
    with _on(path):
        for texts in ([], ["x"], ["the x", ""] * 20, [long, "a", "\u00e9 b"] * 8, [long] * MANY_TEXTS):
            assert tokenizer.encode_many(texts).tolist() == _many_reference(tokenizer, texts)


def test_the_numpy_fallback_is_logged_once(caplog):
    tokenizer_module._numpy_fallback.cache_clear()
    with _on("numpy"), caplog.at_level("DEBUG", logger="edgelstm.tokenizer"):
        for _ in range(3):
            Tokenizer(VOCABULARY, max_len=4).encode_many(["the x"] * MANY_TEXTS)
    assert [r.getMessage() for r in caplog.records].count(
        "edgelstm._words (a C extension) is not built: Tokenizer.encode_many runs numpy passes") == 1


def test_the_c_vocabulary_of_no_words_and_no_texts():
    """The C loop with nothing to look up (every word unknown, "br" still read) or nothing to read."""
    with _on("c"):
        vocabulary = tokenizer_module._native.Vocabulary([], [], tokenizer_module._MAPPED, 0)
        ids, counts = vocabulary.encode([], 3, OOV_ID)
        assert (bytes(ids), bytes(counts)) == (b"", b"")
        ids, counts = vocabulary.encode(["", "<br>", "a b c d", b"<br", "\x00"], 3, OOV_ID)
        assert np.frombuffer(counts, np.int64).tolist() == [1, 1, 3, 1, 1]
        assert np.frombuffer(ids, np.int64).tolist() == [OOV_ID] * 7
        with pytest.raises(ValueError, match="ASCII"):
            vocabulary.encode(["caf\u00e9"], 3, OOV_ID)
        with pytest.raises(TypeError):
            vocabulary.encode([1], 3, OOV_ID)


def test_the_c_loop_frees_what_it_allocates():
    """Tables, results and the error paths' partial work: nothing stays allocated (tracemalloc sees
    PyMem and Python objects). A leak of one result per call would be kilobytes per round."""
    import tracemalloc

    with _on("c"):
        Vocabulary = tokenizer_module._native.Vocabulary
        byte_map = tokenizer_module._MAPPED
        table = (*tokenizer_module._vocabulary_keys(WIDE_VOCABULARY), byte_map, 7)
        texts = ["the don't abcdefghijklmno " * 20, "", b"caf\xc3\xa9 x <br/>", "x" * 300] * 10
        calls = {
            "encode": lambda: Vocabulary(*table).encode(texts, 3, OOV_ID),
            "a non-ASCII str": lambda: Vocabulary(*table).encode([*texts, "caf\u00e9"], 3, OOV_ID),
            "a key not bytes": lambda: Vocabulary([b"ab", "cd"], [2, 3], byte_map, 7),
            "an id of 0": lambda: Vocabulary([b"ab", b"cd"], [2, 0], byte_map, 7),
        }

        def rounds(call, n=100):
            for _ in range(n):
                try:
                    call()
                except (TypeError, ValueError):
                    pass

        grown = {}
        for name, call in calls.items():
            rounds(call)  # first-use allocations (caches, interned strings) happen here
            tracemalloc.start()
            try:
                before = tracemalloc.get_traced_memory()[0]
                rounds(call)
                grown[name] = tracemalloc.get_traced_memory()[0] - before
            finally:
                tracemalloc.stop()
        with pytest.raises(ValueError, match="ASCII"):
            calls["a non-ASCII str"]()
        with pytest.raises(TypeError, match="bytes"):
            calls["a key not bytes"]()
        with pytest.raises(ValueError, match="ids"):
            calls["an id of 0"]()
    assert all(bytes_grown < 1024 for bytes_grown in grown.values()), grown


def test_the_c_extension_compiles_without_warnings():
    """-Wall -Wextra clean (setuptools builds it with the platform's own flags)."""
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        pytest.skip("no C compiler")
    source = Path(tokenizer_module.__file__).with_name("_words.c")
    result = subprocess.run([compiler, "-Wall", "-Wextra", "-Werror", "-std=c11", "-fsyntax-only",
                             "-I" + sysconfig.get_paths()["include"], str(source)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_padded_batches_are_pad_batch():
    tokenizer = Tokenizer(VOCABULARY, max_len=8)
    texts = ["the x " * n + "b" for n in range(20)] + [""]
    encoded = tokenizer.encode_many(texts)
    rows = np.array([20, 3, 0, 7])
    ids, lengths = encoded.padded(rows)
    expected_ids, expected_lengths = pad_batch([tokenizer.encode(texts[i]) for i in rows])
    assert ids.dtype == lengths.dtype == np.int64
    assert np.array_equal(ids, expected_ids) and np.array_equal(lengths, expected_lengths)
    assert lengths.tolist() == [1, 7, 1, 8] and ids[0].tolist() == [OOV_ID] + [0] * 7  # "" is one unknown word
    for row in (3, 20):  # one text alone: no padding (pad_batch of one sequence takes this path too)
        ids, lengths = encoded.padded([row])
        assert ids.dtype == np.int64 and ids.tolist() == [tokenizer.encode(texts[row])]
        assert lengths.tolist() == [len(tokenizer.encode(texts[row]))]


@pytest.mark.slow
@pytest.mark.parametrize("path", PATHS)
def test_encode_many_of_every_imdb_test_review_gives_the_ids_of_the_rule(path, imdb):
    from edgelstm import Classifier

    classifier = Classifier.default()
    texts = list(imdb.evaluation_split.texts)
    with _on(path):
        assert classifier.encode(texts) == _many_reference(classifier.tokenizer, texts)


@pytest.mark.parametrize("threads", [1, 2])
def test_a_classifier_tokenizes_a_list_as_text_by_text(threads):
    from edgelstm import Classifier
    from tests.helpers import TINY_LSTM

    classifier = Classifier.load(TINY_LSTM, threads=threads)
    texts = ["", "the movie was great", "caf\u00e9 <br />bad", "great " * 5000 + "bad", "\u00c9T\u00c9 film"] * 300
    sequences = [classifier.tokenizer.encode(text) for text in texts]
    assert classifier.encode(texts) == sequences
    np.testing.assert_array_equal(classifier.predict_proba(texts), classifier.predict_ids(sequences))


def _keys_word_by_word(vocabulary):
    """The rule of the table's keys, one word at a time: its bytes, apostrophes as "`", kept only
    if ``_MAPPED`` leaves them so (a word ``words`` can give)."""
    pairs = {}
    for i, word in enumerate(vocabulary):
        data = word.encode(errors="replace")
        key = data.replace(b"'", b"`")
        if key and data.translate(tokenizer_module._MAPPED) == key:
            pairs[key] = i + tokenizer_module.RESERVED_IDS
    return pairs


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_WORD_PIECE, st.text(max_size=6), st.sampled_from(["", "\x00", "a\x00b", "\ud800x", "A"])),
                max_size=40))
def test_the_tables_keys_are_the_word_by_word_rule(vocabulary):
    """All words' keys in a few passes over their joined bytes (or word by word when a word holds
    the NUL that joins them): the same keys and ids, a later duplicate winning."""
    assert dict(zip(*tokenizer_module._vocabulary_keys(vocabulary))) == _keys_word_by_word(vocabulary)


_MIXED_TEXTS = ["the film", "don't x", "caf\u00e9 10"] * MANY_TEXTS  # ASCII, an apostrophe, non-ASCII


@pytest.mark.parametrize("path", PATHS)
def test_many_texts_at_once_build_no_per_word_dicts(path):
    """encode_many needs only its table: the text-by-text path's dicts are built at its first use."""
    tokenizer = Tokenizer(WIDE_VOCABULARY, max_len=8)
    texts = _MIXED_TEXTS
    with _on(path):
        many = tokenizer.encode_many(texts).tolist()
    assert "_ids" not in vars(tokenizer) and "_ascii_id" not in vars(tokenizer)
    assert many == [tokenizer.encode(text) for text in texts] == _many_reference(tokenizer, texts)


@pytest.mark.parametrize("path", PATHS)
def test_a_tokenizer_that_encoded_many_texts_pickles(path):
    """A copy (pickle, deepcopy: e.g. to a worker process) leaves the C table behind and builds its own."""
    import copy
    import pickle

    tokenizer = Tokenizer(WIDE_VOCABULARY, max_len=8)
    texts = _MIXED_TEXTS
    with _on(path):
        many = tokenizer.encode_many(texts).tolist()
        for twin in (pickle.loads(pickle.dumps(tokenizer)), copy.deepcopy(tokenizer)):
            assert twin.encode_many(texts).tolist() == many == _many_reference(tokenizer, texts)


def test_threads_encoding_at_once_get_the_serial_ids():
    """The C loop runs without the GIL: threads encoding at once with one tokenizer (its table
    built by whichever comes first) get exactly the ids of one thread encoding alone. Long texts
    (each call some milliseconds of C), different in every batch, so the calls overlap."""
    from concurrent.futures import ThreadPoolExecutor

    with _on("c"):
        batches = [[f"the x{i} don't caf\u00e9 <br />{'a b ' * (i % 7)}" * 1_000 + "x" * j
                    for i in range(j, j + MANY_TEXTS)] for j in range(8)]
        serial = [Tokenizer(WIDE_VOCABULARY, max_len=3_000).encode_many(texts).tolist() for texts in batches]
        for _ in range(3):
            encode_many = Tokenizer(WIDE_VOCABULARY, max_len=3_000).encode_many
            with ThreadPoolExecutor(4) as pool:
                assert [encoded.tolist() for encoded in pool.map(encode_many, batches)] == serial
    assert serial[0] == _many_reference(Tokenizer(WIDE_VOCABULARY, max_len=3_000), batches[0])


def test_threads_that_encode_first_at_once_build_one_c_table(monkeypatch):
    """Two threads' first encode_many at once: one builds the C table, the other waits for it
    (each construction here waits up to a second for a second one to start: without the lock
    both would)."""
    import threading

    with _on("c"):
        real = tokenizer_module._native.Vocabulary
        built = []
        second = threading.Event()

        def slow_vocabulary(*args):
            built.append(threading.get_ident())
            if len(built) == 2:
                second.set()
            second.wait(1.0)
            return real(*args)

        monkeypatch.setattr(tokenizer_module._native, "Vocabulary", slow_vocabulary)
        tokenizer = Tokenizer(WIDE_VOCABULARY, max_len=4)
        texts = _MIXED_TEXTS
        results = []
        threads = [threading.Thread(target=lambda: results.append(tokenizer.encode_many(texts).tolist()))
                   for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(built) == 1
    assert results == [_many_reference(tokenizer, texts)] * 2


def test_the_c_loop_lets_other_threads_run():
    """With a huge switch interval a thread keeps the GIL until it blocks or releases it: the
    main thread, woken by the encoding thread just before its C call, can only run before that
    call ends if the loop released the GIL."""
    import sys
    import threading

    with _on("c"):
        table = tokenizer_module._native.Vocabulary(*tokenizer_module._vocabulary_keys(WIDE_VOCABULARY),
                                                     tokenizer_module._MAPPED, 7)
        texts = ["the don't x abcdefghijklmno " * 40_000] * 64  # one 1 MB text 64 times: a long call (~0.1 s)
        started, state = threading.Event(), {"done": False}

        def encode():
            started.set()
            table.encode(texts, 5, OOV_ID)
            state["done"] = True

        interval = sys.getswitchinterval()
        sys.setswitchinterval(1e3)
        try:
            thread = threading.Thread(target=encode)
            thread.start()
            started.wait()
            ran_during_the_call = not state["done"]
            thread.join()
        finally:
            sys.setswitchinterval(interval)
    assert state["done"] and ran_during_the_call


_SIGMA = st.sampled_from(["\u03a3", "\u03a3a", "a\u03a3", "\u039f\u03a3", "\u03a3\u0301", "'\u03a3", "\u2019\u03a3A"])


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(_PIECES, _UNICODE, _SIGMA, st.characters()), max_size=40).map("".join))
def test_the_c_loops_non_ascii_bytes_are_the_rules_after_the_map(text):
    """For the C loop a non-ASCII text is NFKC-normalized and lowered run by run (in the codec's
    handler) instead of lowered whole: after the map, the very bytes of ``_normalize``."""
    mapped = tokenizer_module._MAPPED
    errors = tokenizer_module._CODEC_ERRORS
    expected = tokenizer_module._normalize(text).encode("ascii", errors).translate(mapped)
    assert tokenizer_module._non_ascii_text(text).encode("ascii", errors).translate(mapped) == expected


def test_a_capital_sigma_is_lowered_by_its_neighbours():
    """Final sigma: lowered alone, a word's last capital sigma is "\u03c2", before a letter "\u03c3"
    (also an ASCII one, outside the run the codec's handler sees)."""
    tokenizer = Tokenizer(["\u03bf\u03b4\u03bf\u03c3a", "\u03bf\u03b4\u03bf\u03c2", "x\u03c3a"], max_len=4)
    texts = ["\u039f\u0394\u039f\u03a3A \u039f\u0394\u039f\u03a3", "X\u03a3A o\u03a3 \u03a3"] * MANY_TEXTS
    with _on("c"):
        assert tokenizer.encode_many(texts).tolist() == _many_reference(tokenizer, texts) == [[2, 3], [4, 1, 1]] * 16


def test_lowering_is_what_the_runs_handler_may_assume():
    """Every character's lower case, lowered again, is itself (the numpy path's texts reach the
    handler lowered already), and holds no ASCII character but letters and digits (an ASCII "<"
    would be a tag's start to the map, not a separator)."""
    import sys

    for char in map(chr, range(128, sys.maxunicode + 1)):
        lowered = char.lower()
        assert lowered.lower() == lowered, hex(ord(char))
        assert all(c.isalnum() for c in lowered if c.isascii()), hex(ord(char))
