"""Data loading: local formats, label kinds, splits, every error case, and the builtin corpora."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import datasets
import numpy as np
import pandas as pd
import pytest

from textcls import resources
from textcls.data import (
    BUILTIN_DATASETS,
    MULTI_LABEL,
    REGRESSION,
    SINGLE_LABEL,
    load_builtin_dataset,
    load_text_classification_data,
    stratified_split_indices,
)
from textcls.errors import DataError, TextclsError

L = load_text_classification_data


def one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg and msg.strip() == msg, msg
    return msg


def rows(n: int, offset: int = 0) -> list[dict]:
    # two classes, 3:1, distinct texts
    return [{"text": f"document number {offset + i}", "label": "pos" if i % 4 else "neg"} for i in range(n)]


def write(path: Path, records: list[dict]) -> Path:
    df = pd.DataFrame(records)
    ext = path.suffix
    if ext == ".csv":
        df.to_csv(path, index=False)
    elif ext == ".tsv":
        df.to_csv(path, index=False, sep="\t")
    elif ext == ".json":
        path.write_text(json.dumps(records))
    elif ext == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
    elif ext == ".parquet":
        df.to_parquet(path)
    else:
        path.write_text(df.to_csv(index=False))
    return path


# ----------------------------------------------------------------------------- formats


@pytest.mark.parametrize("ext", [".csv", ".tsv", ".json", ".jsonl", ".parquet"])
def test_local_format_round_trip(tmp_path, ext):
    train = rows(12)
    train[0]["text"] = 'with "quotes", a comma,\ta tab and ünïcödé'
    data = L(
        train_file=write(tmp_path / f"train{ext}", train),
        validation_file=write(tmp_path / f"val{ext}", rows(4, 100)),
        test_file=write(tmp_path / f"test{ext}", rows(4, 200)),
    )
    dd = data.dataset
    assert list(dd) == ["train", "validation", "test"]
    assert dd["train"].column_names == ["text", "label"]
    assert dd["train"]["text"][:] == [r["text"] for r in train]
    assert dd["train"].features["label"] == datasets.ClassLabel(names=["neg", "pos"])
    assert dd["test"]["label"][:] == [0, 1, 1, 1]
    assert data.problem_type == SINGLE_LABEL and data.num_labels == 2 and data.label_names == ["neg", "pos"]
    assert data.dropped_empty == {"train": 0, "validation": 0, "test": 0}
    assert data.id2label == {0: "neg", 1: "pos"} and data.label2id == {"neg": 0, "pos": 1}


def test_mixed_extensions(tmp_path):
    data = L(
        train_file=write(tmp_path / "train.csv", rows(12)),
        validation_file=write(tmp_path / "val.jsonl", rows(4, 100)),
        test_file=write(tmp_path / "test.parquet", rows(4, 200)),
    )
    assert {k: len(v) for k, v in data.dataset.items()} == {"train": 12, "validation": 4, "test": 4}


def test_int_labels_in_one_file_match_strings_in_another(tmp_path):
    train = [{"text": f"t{i}", "label": i % 3} for i in range(9)]
    val = [{"text": "v", "label": "2"}, {"text": "w", "label": "0"}]
    data = L(train_file=write(tmp_path / "t.parquet", train), validation_file=write(tmp_path / "v.jsonl", val))
    assert data.label_names == ["0", "1", "2"]
    assert data.dataset["validation"]["label"][:] == [2, 0]


@pytest.mark.parametrize("as_dict", [True, False])
def test_save_to_disk_folder(tmp_path, as_dict):
    feats = datasets.Features({"sentence": datasets.Value("string"), "y": datasets.ClassLabel(names=["z", "a"])})
    train = datasets.Dataset.from_dict({"sentence": [f"s{i}" for i in range(20)], "y": [i % 2 for i in range(20)]}, features=feats)
    obj = datasets.DatasetDict(train=train, test=train.select(range(4))) if as_dict else train
    obj.save_to_disk(str(tmp_path / "saved"))
    data = L(str(tmp_path / "saved"), text_columns=["sentence"], label_column="y")
    assert data.label_names == ["z", "a"]  # an existing ClassLabel is kept as is
    assert set(data.dataset) == ({"train", "validation", "test"} if as_dict else {"train", "validation"})
    assert len(data.dataset["train"]) + len(data.dataset["validation"]) == 20
    assert data.dataset["train"].column_names == ["text", "label"]


def test_single_local_file_as_dataset(tmp_path):
    data = L(str(write(tmp_path / "all.jsonl", rows(40))))
    assert {k: len(v) for k, v in data.dataset.items()} == {"train": 36, "validation": 4}


def test_unlabeled_test_split_is_dropped(tmp_path):
    feats = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["a", "b"])})
    train = datasets.Dataset.from_dict({"text": ["x", "y", "z", "w"], "label": [0, 1, 0, 1]}, features=feats)
    test = datasets.Dataset.from_dict({"text": ["q", "r"], "label": [-1, -1]}, features=feats)  # Hub style
    datasets.DatasetDict(train=train, validation=train, test=test).save_to_disk(str(tmp_path / "d"))
    assert list(L(str(tmp_path / "d")).dataset) == ["train", "validation"]


# ----------------------------------------------------------------------------- text columns


def test_multiple_text_columns_joined(tmp_path):
    recs = [
        {"title": "Great", "body": "loved it", "label": "pos"},
        {"title": None, "body": "meh", "label": "neg"},
        {"title": "Bad", "body": "  ", "label": "neg"},
        {"title": "Fine", "body": "ok", "label": "pos"},
    ]
    f = write(tmp_path / "t.jsonl", recs)
    data = L(train_file=f, validation_file=f, text_columns=["title", "body"])
    assert data.dataset["validation"]["text"][:] == ["Great loved it", "meh", "Bad", "Fine ok"]
    # order matters, and a comma-separated string works too (command lines)
    data = L(train_file=f, validation_file=f, text_columns="body,title")
    assert data.dataset["validation"]["text"][0] == "loved it Great"


def test_empty_texts_dropped_and_counted(tmp_path, caplog):
    recs = rows(20)
    recs[1]["text"], recs[2]["text"], recs[3]["text"] = "", "   \t", None
    val = rows(5, 100)
    val[0]["text"] = ""
    with caplog.at_level("WARNING"):
        data = L(train_file=write(tmp_path / "t.jsonl", recs), validation_file=write(tmp_path / "v.jsonl", val))
    assert data.dropped_empty == {"train": 3, "validation": 1}
    assert len(data.dataset["train"]) == 17 and len(data.dataset["validation"]) == 4
    assert "dropped 3 rows with empty text from the train split" in caplog.text
    assert all(t.strip() for t in data.dataset["train"]["text"][:])


# ----------------------------------------------------------------------------- label kinds


def test_int_labels_sorted_numerically(tmp_path):
    recs = [{"text": f"t{i}", "label": [2, 10, 1][i % 3]} for i in range(9)]
    data = L(train_file=write(tmp_path / "t.csv", recs), validation_file=write(tmp_path / "v.csv", recs))
    assert data.label_names == ["1", "2", "10"]
    assert data.dataset["validation"]["label"][:3] == [1, 2, 0]


def test_bool_labels(tmp_path):
    recs = [{"text": f"t{i}", "label": bool(i % 2)} for i in range(6)]
    data = L(train_file=write(tmp_path / "t.parquet", recs), validation_file=write(tmp_path / "v.parquet", recs))
    assert data.label_names == ["False", "True"] and data.dataset["validation"]["label"][:2] == [0, 1]


def test_float_labels_are_regression(tmp_path):
    recs = [{"text": f"t{i}", "label": i / 7} for i in range(20)]
    data = L(train_file=write(tmp_path / "t.csv", recs))
    assert data.problem_type == REGRESSION and data.num_labels == 1 and data.label_names is None
    assert data.dataset["train"].features["label"] == datasets.Value("float32")
    assert data.id2label == {0: "score"}
    got = sorted(data.dataset["train"]["label"][:] + data.dataset["validation"]["label"][:])
    assert np.allclose(got, [i / 7 for i in range(20)], atol=1e-6)


def test_whole_number_floats_are_classes(tmp_path):
    recs = [{"text": f"t{i}", "label": float(i % 2)} for i in range(10)]
    data = L(train_file=write(tmp_path / "t.jsonl", recs), validation_file=write(tmp_path / "v.jsonl", recs))
    assert data.problem_type == SINGLE_LABEL and data.label_names == ["0", "1"]


def test_list_labels_are_multi_label(tmp_path):
    recs = [
        {"text": "a", "label": ["sports", "news"]},
        {"text": "b", "label": ["art"]},
        {"text": "c", "label": []},
        {"text": "d", "label": ["news"]},
    ]
    f = write(tmp_path / "t.jsonl", recs)
    data = L(train_file=f, validation_file=f)
    assert data.problem_type == MULTI_LABEL and data.num_labels == 3
    assert data.label_names == ["art", "news", "sports"]
    assert data.dataset["validation"]["label"][:] == [[0, 1, 1], [1, 0, 0], [0, 0, 0], [0, 1, 0]]
    assert data.dataset["validation"].features["label"].feature == datasets.Value("float32")
    # a prepared multi-label dataset round-trips through save_to_disk
    data.dataset.save_to_disk(str(tmp_path / "saved"))
    again = L(str(tmp_path / "saved"))
    assert again.problem_type == MULTI_LABEL and again.dataset["validation"]["label"][:] == data.dataset["validation"]["label"][:]


def test_multi_label_int_ids(tmp_path):
    recs = [{"text": "a", "label": [0, 2]}, {"text": "b", "label": [1]}]
    f = write(tmp_path / "t.jsonl", recs)
    data = L(train_file=f, validation_file=f)
    assert data.label_names == ["0", "1", "2"] and data.dataset["train"]["label"][0] == [1, 0, 1]


# ----------------------------------------------------------------------------- splits


def test_validation_split_stratified_and_seed_stable(tmp_path):
    f = write(tmp_path / "t.csv", rows(200))
    a = L(train_file=f, seed=7)
    b = L(train_file=f, seed=7)
    c = L(train_file=f, seed=8)
    val = a.dataset["validation"]
    assert len(val) == 20 and len(a.dataset["train"]) == 180
    assert Counter(val["label"][:]) == {1: 15, 0: 5}  # 3:1 like the data
    assert val["text"][:] == b.dataset["validation"]["text"][:]
    assert val["text"][:] != c.dataset["validation"]["text"][:]
    assert not set(val["text"][:]) & set(a.dataset["train"]["text"][:])


def test_validation_percentage(tmp_path):
    data = L(train_file=write(tmp_path / "t.csv", rows(200)), validation_split_percentage=25)
    assert len(data.dataset["validation"]) == 50


def test_split_falls_back_when_a_class_has_one_example(tmp_path, caplog):
    recs = rows(30) + [{"text": "lonely", "label": "rare"}]
    with caplog.at_level("WARNING"):
        data = L(train_file=write(tmp_path / "t.csv", recs))
    assert len(data.dataset["validation"]) == 3 and data.label_names == ["neg", "pos", "rare"]
    assert "not stratified" in caplog.text


def test_max_samples_take_the_first_rows(tmp_path):
    train, val, test = rows(20), rows(10, 100), rows(10, 200)
    data = L(
        train_file=write(tmp_path / "t.csv", train), validation_file=write(tmp_path / "v.csv", val),
        test_file=write(tmp_path / "s.csv", test), max_train_samples=5, max_eval_samples=3, max_test_samples=100,
    )
    assert data.dataset["train"]["text"][:] == [r["text"] for r in train[:5]]
    assert data.dataset["validation"]["text"][:] == [r["text"] for r in val[:3]]
    assert len(data.dataset["test"]) == 10


def test_stratified_split_indices_exact_sizes():
    labels = np.array([0] * 50 + [1] * 30 + [2] * 20)
    train, val, test = stratified_split_indices(labels, [0.8, 0.1, 0.1], seed=42)
    assert (len(train), len(val), len(test)) == (80, 10, 10)
    assert sorted(np.concatenate([train, val, test]).tolist()) == list(range(100))
    assert Counter(labels[val].tolist()) == {0: 5, 1: 3, 2: 2}
    again = stratified_split_indices(labels, [0.8, 0.1, 0.1], seed=42)
    assert all((x == y).all() for x, y in zip((train, val, test), again))


# ----------------------------------------------------------------------------- errors


def check(match: str, **kwargs) -> str:
    with pytest.raises(TextclsError, match=match) as exc:
        L(**kwargs)
    assert isinstance(exc.value, DataError)
    return one_line(exc)


def test_error_missing_file(tmp_path):
    msg = check("train_file '.*nope.csv' not found", train_file=tmp_path / "nope.csv")
    assert "check the path" in msg
    check("validation_file '.*' not found", train_file=write(tmp_path / "t.csv", rows(4)), validation_file=tmp_path / "v.csv")


def test_error_unsupported_extension(tmp_path):
    f = tmp_path / "t.txt"
    f.write_text("text,label\na,b\n")
    check(r"unsupported extension '\.txt'; supported: \.csv, \.tsv, \.json, \.jsonl, \.parquet", train_file=f)


@pytest.mark.parametrize("content", [b"", b"\n  \n", b"\xef\xbb\xbf"])
def test_error_empty_file(tmp_path, content):
    f = tmp_path / "t.csv"
    f.write_bytes(content)
    check("train_file '.*' is empty", train_file=f)


def test_error_header_only(tmp_path):
    f = tmp_path / "t.csv"
    f.write_text("text,label\n")
    check("has no data rows", train_file=f)


def test_error_not_utf8(tmp_path):
    f = tmp_path / "t.csv"
    f.write_bytes("text,label\nh\u00e9llo,pos\n".encode("latin-1"))
    check(r"is not UTF-8 text \(bad byte at offset 12\); re-save it as UTF-8", train_file=f)


def test_utf8_bom_is_fine(tmp_path):
    f = tmp_path / "t.csv"
    f.write_bytes(b"\xef\xbb\xbftext,label\na,x\nb,y\nc,x\n")
    assert L(train_file=f, validation_file=f).dataset["train"]["text"][:] == ["a", "b", "c"]


def test_error_malformed_csv(tmp_path):
    f = tmp_path / "t.csv"
    f.write_text("text,label\nfine,pos\nnot, quoted, pos\n")
    check(r"train_file '.*t.csv' line 3 has 3 fields but the header has 2", train_file=f)


def test_error_malformed_jsonl(tmp_path):
    f = tmp_path / "t.jsonl"
    f.write_text('{"text": "a", "label": "x"}\n{"text": "b", "lab\n')
    check(r"could not read train_file '.*t.jsonl' as jsonl \(.*\); check that every row is well formed", train_file=f)


def test_error_missing_text_column(tmp_path):
    f = write(tmp_path / "t.csv", [{"sentence": "a", "label": "x"}])
    msg = check(r"column\(s\) 'text' not in the train split; its columns are: sentence, label", train_file=f)
    assert "text_columns" in msg


def test_error_missing_label_column(tmp_path):
    f = write(tmp_path / "t.csv", [{"text": "a", "y": "x"}])
    check(r"label column 'label' not in the train split; its columns are: text, y", train_file=f)


def test_error_mixed_label_types_json(tmp_path):
    f = write(tmp_path / "t.jsonl", [{"text": "a", "label": "pos"}, {"text": "b", "label": 1}])
    check(r"column 'label' mixes value types \(int, str\)", train_file=f)


def test_error_mixed_label_types_csv(tmp_path):
    f = tmp_path / "t.csv"
    f.write_text("text,label\na,pos\nb,1\nc,neg\n")
    check(r"label column 'label' mixes numbers and words \(e.g. '1' and '(pos|neg)'\)", train_file=f)


def test_error_missing_labels(tmp_path):
    f = tmp_path / "t.csv"
    f.write_text("text,label\na,1\nb,\nc,0\nd,\n")
    check(r"2 of 4 rows in the train split have no label \(column 'label'\)", train_file=f)
    ok = write(tmp_path / "ok.csv", rows(8))
    v = tmp_path / "v.csv"
    v.write_text("text,label\na,pos\nb,\n")
    check(r"1 of 2 rows in the validation split have no label", train_file=ok, validation_file=v)


def test_error_unseen_labels(tmp_path):
    train = write(tmp_path / "t.csv", rows(8))
    val = write(tmp_path / "v.csv", [{"text": f"v{i}", "label": f"new{i}"} for i in range(7)] + rows(2))
    msg = check(r"the validation split has label\(s\) never seen in train: 'new0', 'new1', 'new2', 'new3', 'new4' and 2 more", train_file=train, validation_file=val)
    assert "new5" not in msg
    test = write(tmp_path / "s.jsonl", [{"text": "a", "label": ["pos", "zzz"]}])
    mt = write(tmp_path / "m.jsonl", [{"text": "a", "label": ["pos"]}, {"text": "b", "label": ["neg"]}])
    check(r"the test split has label\(s\) never seen in train: 'zzz'", train_file=mt, validation_file=mt, test_file=test)


def test_error_split_without_text(tmp_path):
    train = write(tmp_path / "t.csv", rows(8))
    test = write(tmp_path / "s.jsonl", [{"text": "  ", "label": "pos"}, {"text": None, "label": "neg"}])
    check(r"the test split has no rows with text \(2 empty or missing dropped\)", train_file=train, test_file=test)


def test_error_regression_labels_must_be_numbers(tmp_path):
    train = write(tmp_path / "t.jsonl", [{"text": f"t{i}", "label": i + 0.5} for i in range(4)])
    val = write(tmp_path / "v.jsonl", [{"text": "v", "label": "high"}])
    check(r"the validation split has string labels in 'label' but train labels are numbers", train_file=train, validation_file=val)


def test_error_argument_combinations(tmp_path):
    f = write(tmp_path / "t.csv", rows(8))
    check("pass either dataset or train_file", dataset="movie-snippets", train_file=f)
    check("no data given", )
    check("validation_file/test_file given without train_file", validation_file=f)
    check("validation_split_percentage must be between 0 and 100", train_file=f, validation_split_percentage=0)
    check("max_train_samples must be a positive whole number", train_file=f, max_train_samples=0)
    check("text_columns is empty", train_file=f, text_columns=[])
    check("is both a text column and the label column", train_file=f, text_columns=["text", "label"])


def test_error_too_small_to_split(tmp_path):
    check("train has only 1 rows: too few to hold out a validation split", train_file=write(tmp_path / "t.csv", rows(1)))


def test_error_missing_local_path(tmp_path):
    check(r"dataset '.*missing.csv' not found: no such file or folder", dataset=str(tmp_path / "missing.csv"))
    check(r"dataset 'data/train.jsonl' not found", dataset="data/train.jsonl")


def test_error_hub_unreachable(monkeypatch):
    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'someone/some_data' on the Hub (LocalEntryNotFoundError)")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    msg = check(
        r"dataset 'someone/some_data' is neither a builtin name \(movie-snippets, 20newsgroups, reuters-r8\), "
        r"nor a local file or folder, nor loadable from the Hugging Face Hub \(ConnectionError: Couldn't reach",
        dataset="someone/some_data",
    )
    assert msg.endswith("connect to the Hub")


@pytest.mark.skipif(not datasets.config.HF_HUB_OFFLINE, reason="needs HF_HUB_OFFLINE=1 to stay off the network")
def test_error_hub_offline_real():
    check("is neither a builtin name", dataset="no-such-user/no-such-dataset-xyz")


def test_error_unknown_builtin():
    with pytest.raises(TextclsError, match="unknown builtin dataset 'imdb'; valid names: movie-snippets, 20newsgroups, reuters-r8") as exc:
        load_builtin_dataset("imdb")
    one_line(exc)


# ----------------------------------------------------------------------------- fixed label space (label_names / problem_type)


def test_label_names_fix_the_order(tmp_path):
    # sorted inference would give ["neg", "pos"]; the given order wins, in every split
    train = write(tmp_path / "t.csv", rows(20))
    test = write(tmp_path / "s.csv", [{"text": "a", "label": "neg"}, {"text": "b", "label": "pos"}])
    data = L(train_file=train, test_file=test, label_names=["pos", "neg", "unused"])
    assert data.problem_type == SINGLE_LABEL and data.num_labels == 3
    assert data.label_names == ["pos", "neg", "unused"] and data.label2id == {"pos": 0, "neg": 1, "unused": 2}
    assert data.dataset["test"].features["label"].names == ["pos", "neg", "unused"]
    assert data.dataset["test"]["label"][:] == [1, 0]
    # with a train split, validation is still held out of it, as without label_names
    assert {k: len(v) for k, v in data.dataset.items()} == {"train": 18, "validation": 2, "test": 2}


def test_label_names_match_ints_and_classlabels_by_string(tmp_path):
    ints = write(tmp_path / "i.jsonl", [{"text": "a", "label": 2}, {"text": "b", "label": 10}])
    data = L(test_file=ints, label_names=["10", "2"])
    assert data.dataset["test"]["label"][:] == [1, 0]
    feats = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["z", "a"])})
    test = datasets.Dataset.from_dict({"text": ["x", "y", "w"], "label": [0, 1, 0]}, features=feats)
    datasets.DatasetDict(test=test).save_to_disk(str(tmp_path / "saved"))  # no train split at all
    data = L(str(tmp_path / "saved"), label_names=["a", "z"])
    assert list(data.dataset) == ["test"] and data.dataset["test"]["label"][:] == [1, 0, 1]


def test_test_file_alone_with_label_names(tmp_path):
    test = write(tmp_path / "s.csv", rows(6))
    data = L(test_file=test, label_names=["neg", "pos"])
    assert list(data.dataset) == ["test"]  # no train, so no held-out validation either
    assert data.dataset["test"]["label"][:] == [0, 1, 1, 1, 0, 1]
    assert data.dropped_empty == {"test": 0}
    val_only = L(validation_file=test, label_names=["neg", "pos"])
    assert list(val_only.dataset) == ["validation"]
    # without a fixed label space a train split is still required
    check("validation_file/test_file given without train_file", test_file=test)


def test_error_label_not_in_label_names(tmp_path):
    train = write(tmp_path / "t.csv", rows(8))
    test = write(tmp_path / "s.csv", [{"text": f"s{i}", "label": f"new{i}"} for i in range(7)] + rows(2))
    msg = check(
        r"the test split has label\(s\) not in label_names: 'new0', 'new1', 'new2', 'new3', 'new4' and 2 more",
        train_file=train, test_file=test, label_names=["neg", "pos"],
    )
    assert "new5" not in msg and "allowed: neg, pos" in msg
    # train labels are checked too: nothing is inferred from train any more
    check(r"the train split has label\(s\) not in label_names: 'pos'", train_file=train, label_names=["neg"])
    multi = write(tmp_path / "m.jsonl", [{"text": "a", "label": ["pos", "zzz"]}])
    check(r"the test split has label\(s\) not in label_names: 'zzz'.*allowed: neg, pos", test_file=multi,
          label_names=["neg", "pos"], problem_type=MULTI_LABEL)


def test_label_names_multi_label(tmp_path):
    recs = [{"text": "a", "label": ["sports", "news"]}, {"text": "b", "label": []}, {"text": "c", "label": ["art"]}]
    f = write(tmp_path / "m.jsonl", recs)
    data = L(test_file=f, label_names=["sports", "news", "art"])  # lists in the data -> multi-label
    assert data.problem_type == MULTI_LABEL and data.num_labels == 3
    assert data.dataset["test"]["label"][:] == [[1, 1, 0], [0, 0, 0], [0, 0, 1]]
    # prepared multi-hot vectors are taken in the given order
    data.dataset.save_to_disk(str(tmp_path / "saved"))
    again = L(str(tmp_path / "saved"), label_names=["sports", "news", "art"], problem_type=MULTI_LABEL)
    assert again.dataset["test"]["label"][:] == data.dataset["test"]["label"][:]
    check("the test split has single labels in 'label' but the given label space has label lists",
          test_file=write(tmp_path / "s.csv", rows(2)), label_names=["neg", "pos"], problem_type=MULTI_LABEL)


def test_problem_type_regression(tmp_path):
    # whole-number floats would be inferred as classes; a fixed regression keeps them scores
    test = write(tmp_path / "s.jsonl", [{"text": f"t{i}", "label": float(i % 3)} for i in range(6)])
    data = L(test_file=test, problem_type=REGRESSION)
    assert data.problem_type == REGRESSION and data.num_labels == 1 and data.label_names is None
    assert data.dataset["test"].features["label"] == datasets.Value("float32")
    assert data.dataset["test"]["label"][:] == [0.0, 1.0, 2.0, 0.0, 1.0, 2.0]
    words = write(tmp_path / "w.csv", rows(3))
    check(r"the test split has \w*string labels in 'label' but problem_type is regression", test_file=words, problem_type=REGRESSION)


def test_error_bad_label_space_arguments(tmp_path):
    f = write(tmp_path / "s.csv", rows(4))
    check("unknown problem_type 'ranking'", test_file=f, problem_type="ranking")
    check("label_names were given with problem_type 'regression'", test_file=f, label_names=["a"], problem_type=REGRESSION)
    check("problem_type 'single_label_classification' needs label_names", test_file=f, problem_type=SINGLE_LABEL)
    check("label_names is empty", test_file=f, label_names=[])
    check("label_names has duplicates \\('pos'\\)", test_file=f, label_names=["pos", "neg", "pos"])
    check("no data given", label_names=["neg", "pos"])


def test_error_unlabelled_split_alone(tmp_path):
    test = tmp_path / "s.csv"
    test.write_text("text,label\na,\nb,\n")
    check("no split has labels in column 'label' \\(unlabelled: test\\)", test_file=test, label_names=["neg", "pos"])


# ----------------------------------------------------------------------------- builtin corpora

EXPECTED = {
    # name: (classes, train, validation, test) -- DESIGN counts: MR 10,568 rows; 20NG 11,293/7,528; R8 5,485/2,189
    "movie-snippets": (2, 8454, 1057, 1057),
    "20newsgroups": (20, 10164, 1129, 7528),
    "reuters-r8": (8, 4937, 548, 2189),
}


def need(name: str) -> str:
    if not resources.is_cached(name):
        pytest.skip(f"{name} not cached: run `make data` (textcls download all) first")
    return name


@pytest.fixture(params=list(EXPECTED))
def builtin(request):
    return need(request.param)


def test_builtin_corpus(builtin):
    n_classes, n_train, n_val, n_test = EXPECTED[builtin]
    start = time.perf_counter()
    dd = load_builtin_dataset(builtin)
    assert {k: len(v) for k, v in dd.items()} == {"train": n_train, "validation": n_val, "test": n_test}
    names = dd["train"].features["label"].names
    assert len(names) == n_classes and names == sorted(names)
    for split in dd.values():
        assert split.column_names == ["text", "label"]
        assert all(t.strip() for t in split["text"][:])
        assert set(split["label"][:]) == set(range(n_classes))  # every class in every split
    # stratified: validation class shares track train's
    tr = np.bincount(dd["train"]["label"][:], minlength=n_classes) / n_train
    va = np.bincount(dd["validation"]["label"][:], minlength=n_classes) / n_val
    assert np.abs(tr - va).max() < 0.01
    # train is shuffled (the 20NG file is sorted by class): the first 200 rows hold many classes
    assert len(set(dd["train"]["label"][:200])) == n_classes
    # cached: second load is quick and identical, and the general loader agrees
    again = load_builtin_dataset(builtin)
    assert time.perf_counter() - start < 30
    for split in dd:
        assert again[split]["text"][:] == dd[split]["text"][:]
    data = L(builtin, seed=123)  # the training seed does not move the builtin split
    assert data.dataset["validation"]["text"][:] == dd["validation"]["text"][:]
    assert data.num_labels == n_classes and data.label_names == names


def test_movie_snippets_labels():
    dd = load_builtin_dataset(need("movie-snippets"))
    assert dd["train"].features["label"].names == ["negative", "positive"]
    total = Counter()
    for split in dd.values():
        total.update(split["label"][:])
    assert sum(total.values()) == 10568 and total == {1: 5242, 0: 5326}


@pytest.mark.parametrize("builtin", ["movie-snippets", "reuters-r8"])
def test_builtin_split_is_reproducible_from_scratch(builtin, tmp_path, monkeypatch):
    """A fresh preparation (other cache dir, same raw files) gives identical splits."""
    need(builtin)
    cached = load_builtin_dataset(builtin)
    raw = resources.resource_files(builtin)
    monkeypatch.setattr(resources, "resource_files", lambda name: raw)
    monkeypatch.setenv("TEXTCLS_CACHE", str(tmp_path))
    fresh = load_builtin_dataset(builtin)
    assert str(tmp_path) in fresh["train"].cache_files[0]["filename"]
    for split in cached:
        assert fresh[split]["text"][:] == cached[split]["text"][:]
        assert fresh[split]["label"][:] == cached[split]["label"][:]


def test_csv_keeps_na_like_words_and_long_fields(tmp_path):
    f = tmp_path / "t.csv"
    long_text = "word " * 40_000  # 200 KB in one field, past the csv module's default limit
    f.write_text(f'text,label\nNA,None\nnull,x\n"{long_text}",x\n')
    data = L(train_file=f, validation_file=f)
    assert data.dataset["validation"]["text"][:2] == ["NA", "null"]
    assert data.label_names == ["None", "x"]
    assert len(data.dataset["validation"]["text"][2]) == len(long_text)


def test_builtin_catalogue():
    assert set(BUILTIN_DATASETS) == set(EXPECTED)
    assert all(isinstance(d, str) and d for d in BUILTIN_DATASETS.values())
