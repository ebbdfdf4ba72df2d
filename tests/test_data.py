"""Readers of labeled data: every format, and errors that name the file and line."""

import io
import json
import tarfile

import pytest

from edgelstm.data import load_dataset, load_labeled
from edgelstm.errors import DataError


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_with_default_and_custom_columns(tmp_path):
    data = load_labeled(write(tmp_path / "d.csv", 'text,label\n"good, really",pos\nbad,neg\n')).train
    assert data.texts == ["good, really", "bad"] and data.labels == ["pos", "neg"]
    data = load_labeled(write(tmp_path / "e.tsv", "y\treview\n1\tfine\n"),
                        text_column="review", label_column="y").train
    assert data.texts == ["fine"] and data.labels == ["1"]


def test_jsonl_and_fasttext(tmp_path):
    rows = [{"text": "good", "label": "pos"}, {"text": "bad", "label": 0}]
    data = load_labeled(write(tmp_path / "d.jsonl", "\n".join(map(json.dumps, rows)) + "\n\n")).train
    assert data.texts == ["good", "bad"] and data.labels == ["pos", "0"]
    data = load_labeled(write(tmp_path / "d.txt", "__label__pos a fine film\n__label__neg dull\n")).train
    assert data.texts == ["a fine film", "dull"] and data.labels == ["pos", "neg"]


def test_aclimdb_folder_and_archive(tmp_path):
    files = {"aclImdb/train/pos/1_9.txt": "great", "aclImdb/train/neg/2_1.txt": "bad<br />film",
             "aclImdb/test/pos/3_8.txt": "nice", "aclImdb/train/unsup/4_0.txt": "unlabeled"}
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    archive = tmp_path / "imdb.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, text in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))
    for source in (tmp_path / "aclImdb", archive):
        dataset = load_labeled(source)
        assert sorted(zip(dataset.train.labels, dataset.train.texts)) == [("neg", "bad<br />film"), ("pos", "great")]
        assert dataset.test.texts == ["nice"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("d.csv", "text,label\ngood,pos\nbad\n", r"d.csv:3: malformed row"),
        ("d.csv", "review,label\ngood,pos\n", r"no column 'text'"),
        ("d.jsonl", '{"text": "a", "label": "x"}\n{"text": "b"\n', r"d.jsonl:2: not valid JSON"),
        ("d.jsonl", '{"text": 5, "label": "x"}\n', r"d.jsonl:1: needs a string 'text'"),
        ("d.txt", "__label__a fine\nno label here\n", r"d.txt:2: expected '__label__LABEL text'"),
    ],
)
def test_malformed_rows_name_file_and_line(tmp_path, name, content, message):
    with pytest.raises(DataError, match=message):
        load_labeled(write(tmp_path / name, content))


def test_bad_rows_can_be_skipped_and_are_counted(tmp_path):
    data = load_labeled(write(tmp_path / "d.txt", "__label__a x\njunk\n__label__b y\n"), skip_bad_rows=True).train
    assert data.labels == ["a", "b"] and data.skipped == 1


def test_datasets_need_two_labels_and_known_test_labels(tmp_path):
    with pytest.raises(DataError, match="only one label"):
        load_dataset(write(tmp_path / "one.txt", "__label__a x\n__label__a y\n"))
    with pytest.raises(DataError, match="no labeled examples"):
        load_dataset(write(tmp_path / "empty.txt", "\n"))
    train = write(tmp_path / "t.txt", "__label__a x\n__label__b y\n")
    with pytest.raises(DataError, match=r"test labels \['c'\]"):
        load_dataset(train, write(tmp_path / "test.txt", "__label__c z\n"))
