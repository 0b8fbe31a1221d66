"""A bad data file gets the same one-line message from `textcls predict`, `evaluate` and `train`.

All three read tables through `textcls.data.sources.load_data_file`; only the name of the file
(input file / test_file / train_file) and of the split differ, so messages are compared with
those names made equal.
"""

from __future__ import annotations

import json

import pytest
import transformers
from conftest import error_line

from textcls.data import load_texts

GOOD_ROWS = "text,label\nnice,pos\nbad,neg\n"

# file name -> (content, a part of the message every command must print)
BAD_FILES = {
    "data.xml": ("<rows/>", "has unsupported extension '.xml'; supported: .csv, .tsv, .json, .jsonl, .parquet"),
    "latin1.csv": ("text,label\ncaf\xe9 good,pos\n".encode("latin-1"), "is not UTF-8 text (bad byte at offset 14)"),
    "body.csv": ("body,label\nhello,pos\n", "column(s) 'text' not in the input file; its columns are: body, label"),
    "columns.json": (
        json.dumps({"text": {str(i): f"text {i}" for i in range(500)}, "label": {str(i): "pos" for i in range(500)}}),
        "holds one JSON object of columns; textcls reads a list of records",
    ),
    "blank.csv": ("text,label\n  ,pos\n,neg\n", "the input file has no rows with text (2 empty or missing dropped)"),
    "ragged.csv": ("text,label\na,b,c,d\nx,y\n", "line 2 has 4 fields but the header has 2"),
    "broken.jsonl": ('{"text": "a", "label": "pos"}\n{"text": \n', "as jsonl (ValueError: "),
    "empty.csv": ("", "is empty; it needs a header row and data rows"),
    "header_only.csv": ("text,label\n", "has no data rows"),
    "empty_list.json": ("[]", "has no data rows"),
}


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad_files")
    for name, (content, _) in BAD_FILES.items():
        (folder / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    # evaluate reads the label space from the config, and bad data fails before the weights load
    config = transformers.BertConfig(vocab_size=16, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=8, id2label={0: "neg", 1: "pos"}, label2id={"neg": 0, "pos": 1})
    transformers.BertForSequenceClassification(config).save_pretrained(folder / "model")
    (folder / "good.csv").write_text(GOOD_ROWS)
    return folder


def same_names(message: str, file_role: str, split: str) -> str:
    """The message as predict would word it: the file is the input file, the split the input file."""
    return message.replace(file_role, "input file").replace(f"the {split} split", "the input file")


@pytest.mark.parametrize("name", list(BAD_FILES) + ["missing.csv"])
def test_same_message_from_predict_evaluate_and_train(name, bad_files, tmp_path, capsys):
    path = str(bad_files / name)
    expected = BAD_FILES[name][1] if name in BAD_FILES else "not found; check the path"
    predict = error_line(["predict", "--model", str(bad_files / "model"), path], capsys)
    evaluate = error_line(["evaluate", "--model", str(bad_files / "model"), "--test_file", path], capsys)
    train = error_line(["train", "--train_file", path, "--output_dir", str(tmp_path / "out")], capsys)
    assert expected in predict
    assert len(predict) < 300
    if name == "data.xml":  # predict also reads .txt files, and says so
        assert predict == same_names(evaluate, "test_file", "test") + ", .txt"
        assert predict == same_names(train, "train_file", "train") + ", .txt"
    else:
        assert predict == same_names(evaluate, "test_file", "test")
        assert predict == same_names(train, "train_file", "train")
    assert not (tmp_path / "out" / "config.json").exists()


def test_column_oriented_json_message_does_not_grow(tmp_path):
    lengths = []
    for n in (3, 3000):
        path = tmp_path / f"columns{n}.json"
        path.write_text(json.dumps({"text": {str(i): f"text {i}" for i in range(n)}}))
        with pytest.raises(Exception, match="a list of records") as exc:
            load_texts(path, "text")
        lengths.append(len(str(exc.value)) - len(str(path)))
    assert lengths[0] == lengths[1] and lengths[0] < 250


def test_predict_reads_tables_txt_and_rejects_partly_empty_texts(tmp_path):
    (tmp_path / "t.csv").write_text('text,label\n"a, with comma",x\nNA,y\n42,z\n')
    assert load_texts(tmp_path / "t.csv", "text") == ["a, with comma", "NA", "42"]  # "NA" is a text, not missing
    (tmp_path / "t.jsonl").write_text('{"body": "first"}\n{"body": "second"}\n')
    assert load_texts(tmp_path / "t.jsonl", "body") == ["first", "second"]
    (tmp_path / "t.txt").write_text("one\n\n  \ntwo\n")
    assert load_texts(tmp_path / "t.txt", "text") == ["one", "two"]
    (tmp_path / "bad.txt").write_bytes(b"caf\xe9\n")
    with pytest.raises(Exception, match=r"input file '.*bad.txt' is not UTF-8 text \(bad byte at offset 3\)"):
        load_texts(tmp_path / "bad.txt", "text")
    # one prediction per input row: a blank text is an error, not silently dropped
    (tmp_path / "holes.csv").write_text("text,id\nfine,1\n ,2\nok,3\n")
    with pytest.raises(Exception, match=r"the input file has 1 row\(s\) with no text in column 'text' \(first at row 2\)"):
        load_texts(tmp_path / "holes.csv", "text")
