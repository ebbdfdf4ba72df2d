"""Small API edges (issue 21, item 8): each argument refused by name, no NaN, no wrong stream reset."""

from __future__ import annotations

import numpy as np
import pytest

from edgelstm import Classifier
from edgelstm.errors import EXIT_USAGE
from tests.helpers import TINY_BILSTM, TINY_LSTM, run_cli


@pytest.mark.parametrize("model", [TINY_LSTM, TINY_BILSTM], ids=["lstm", "bilstm"])
def test_an_empty_id_list_is_read_as_one_unknown_word_like_an_empty_text(model):
    classifier = Classifier.load(model)
    by_ids = classifier.predict_ids([[], [5, 6], []])
    assert not np.isnan(by_ids).any()
    np.testing.assert_array_equal(by_ids[0], classifier.predict_proba([""])[0])  # as predict reads ""
    np.testing.assert_array_equal(by_ids[0], classifier.predict_ids([[1]])[0])  # 1: the unknown word


@pytest.mark.parametrize("threads", [-1, 0, 1.5, True, "2"])
def test_load_refuses_a_thread_count_that_is_not_positive(threads):
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        Classifier.load(TINY_LSTM, threads=threads)


def test_stream_batch_reset_refuses_rows_outside_the_batch():
    batch = Classifier.load(TINY_LSTM).streams(2)
    batch.feed(["a fine film", "bad"])
    before = [batch.tokens(0), batch.tokens(1)]
    with pytest.raises(ValueError, match=r"reset\(-1\): rows are 0 to 1"):
        batch.reset(-1)  # Python's "last" would reset stream 1 instead
    with pytest.raises(IndexError, match=r"reset\(5\): this batch has 2 streams, rows 0 to 1"):
        batch.reset(5)
    with pytest.raises(TypeError):
        batch.reset("0")
    assert [batch.tokens(0), batch.tokens(1)] == before  # nothing was reset
    batch.reset(np.int64(1))
    assert [batch.tokens(0), batch.tokens(1)] == [before[0], 0]


@pytest.mark.parametrize("model", [TINY_LSTM, "model.pt"])
def test_evaluate_a_model_without_data_is_a_usage_error(model):
    result = run_cli("evaluate", model)
    assert result.returncode == EXIT_USAGE, result.stderr
    assert "is a model; give labeled data after it" in result.stderr
