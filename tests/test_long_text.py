"""--long_text chunk: overlapping windows, trained on every window, averaged per text at evaluation."""

import csv
import json
import random

import datasets
import numpy as np
import pytest
import torch
from conftest import tiny_model
from test_class_weights import assert_one_line_error
from transformers import TrainingArguments

import textcls
from textcls.cli import main as cli_main
from textcls.errors import TextclsError
from textcls.inference import load_checkpoint, predict_logits
from textcls.collation import WINDOW_WEIGHT, packed_batch
from textcls.long_text import (
    WindowCollator,
    encode_windows,
    tokenize_chunked_splits,
    window_stride,
)
from textcls.trainer import TextclsTrainer
from textcls.training import run

FILLER = ["the", "film", "plot", "was", "cast", "and", "really", "quite", "a", "story", "music", "ending"]
TEXTS = [" ".join(FILLER[: n % 12 + 1] * 3) for n in range(7)] + ["short one"]


@pytest.fixture(scope="module")
def tokenizer():
    return textcls.train_word_tokenizer(TEXTS + ["one short"])


def test_windows_overlap_by_the_stride_and_cover_the_text(tokenizer):
    windows, document = encode_windows(tokenizer, TEXTS, max_length=6, stride=2)
    for index, text in enumerate(TEXTS):
        ids = tokenizer(text)["input_ids"]
        own = [windows["input_ids"][w] for w, d in enumerate(document) if d == index]
        assert all(len(window) <= 6 for window in own)
        for previous, current in zip(own, own[1:]):
            assert previous[-2:] == current[:2]  # consecutive windows share `stride` tokens
        assert own[0] + [t for window in own[1:] for t in window[2:]] == ids  # and together they are the text
    assert sorted(set(document)) == list(range(len(TEXTS))) and document == sorted(document)


def window_logits_by_hand(model, tokenizer, texts, max_length, stride):
    """Each window through the model on its own, then the mean per text."""
    windows, document = encode_windows(tokenizer, texts, max_length, stride)
    with torch.no_grad():
        logits = [model(input_ids=torch.tensor([ids])).logits[0] for ids in windows["input_ids"]]
    return torch.stack([torch.stack([l for l, d in zip(logits, document) if d == i]).mean(0) for i in range(len(texts))])


def test_predict_averages_the_windows_logits(family, tokenizer):
    model = tiny_model(family, vocab_size=len(tokenizer), num_labels=3)
    model.config.pad_token_id = tokenizer.pad_token_id
    expected = window_logits_by_hand(model, tokenizer, TEXTS, 6, 2)
    logits = predict_logits(model, tokenizer, TEXTS, batch_size=3, max_length=6, long_text="chunk", chunk_stride=2)
    assert logits.shape == (len(TEXTS), 3)
    np.testing.assert_allclose(logits, expected.numpy(), atol=1e-5)


def test_trainer_evaluation_gives_one_row_per_text_equal_to_the_mean_of_its_windows(family, tokenizer, tmp_path):
    model = tiny_model(family, vocab_size=len(tokenizer), num_labels=3)
    model.config.pad_token_id = tokenizer.pad_token_id
    labels = [i % 3 for i in range(len(TEXTS))]
    splits = datasets.DatasetDict({name: datasets.Dataset.from_dict({"text": TEXTS, "label": labels})
                                   for name in ("train", "validation")})
    chunked = tokenize_chunked_splits(splits, tokenizer, max_length=6, stride=2)
    windows, _ = encode_windows(tokenizer, TEXTS, 6, 2)
    assert len(chunked["train"]) == len(windows["input_ids"]) and len(chunked["validation"]) == len(TEXTS)

    args = TrainingArguments(output_dir=str(tmp_path), report_to="none", use_cpu=True, per_device_eval_batch_size=3)
    trainer = TextclsTrainer(model=model, args=args, data_collator=WindowCollator(tokenizer))
    output = trainer.predict(chunked["validation"])
    expected = window_logits_by_hand(model, tokenizer, TEXTS, 6, 2)
    assert output.predictions.shape == (len(TEXTS), 3) and output.label_ids.tolist() == labels
    np.testing.assert_allclose(output.predictions, expected.numpy(), atol=1e-5)
    # the evaluation loss is the shared loss of the averaged logits, a mean over texts
    expected_loss = torch.nn.functional.cross_entropy(expected, torch.tensor(labels))
    assert output.metrics["test_loss"] == pytest.approx(expected_loss.item(), abs=1e-5)


def test_text_weighting_gives_every_text_one_share_and_reaches_the_loss(tokenizer, tmp_path):
    labels = [i % 3 for i in range(len(TEXTS))]
    splits = datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": TEXTS, "label": labels})})
    assert WINDOW_WEIGHT not in tokenize_chunked_splits(splits, tokenizer, 6, 2)["train"].column_names
    train = tokenize_chunked_splits(splits, tokenizer, 6, 2, weighting="text")["train"]
    _, document = encode_windows(tokenizer, TEXTS, 6, 2)
    weights = np.array(train[WINDOW_WEIGHT])
    assert min(document.count(i) for i in range(len(TEXTS))) == 1 and max(document.count(i) for i in range(len(TEXTS))) > 2
    per_text = np.bincount(document, weights=weights)
    np.testing.assert_allclose(per_text, per_text[0])  # each text weighs the same, however many windows it has
    assert weights.mean() == pytest.approx(1.0)  # so the loss keeps its scale

    # the Trainer keeps the column (no `forward` takes it) and the loss weighs each window by it
    model = tiny_model("llama", vocab_size=len(tokenizer), num_labels=3)
    model.config.pad_token_id = tokenizer.pad_token_id
    args = TrainingArguments(output_dir=str(tmp_path), report_to="none", use_cpu=True,
                             per_device_train_batch_size=len(train))
    trainer = TextclsTrainer(model=model, args=args, train_dataset=train, data_collator=WindowCollator(tokenizer))
    batch = next(iter(trainer.get_train_dataloader()))
    assert sorted(batch[WINDOW_WEIGHT].tolist()) == pytest.approx(sorted(weights.tolist()))
    loss, outputs = trainer.compute_loss(model, batch, return_outputs=True)
    per_window = torch.nn.functional.cross_entropy(outputs.logits, batch["labels"], reduction="none")
    assert loss.item() == pytest.approx((per_window * batch[WINDOW_WEIGHT]).mean().item(), abs=1e-5)
    assert loss.item() != pytest.approx(per_window.mean().item(), abs=1e-3)
    # packed batches (--padding_free) carry the weights too, one per window
    packed = packed_batch([train[i] for i in range(4)])
    assert packed[WINDOW_WEIGHT].tolist() == pytest.approx(weights[:4].tolist())


def long_text_files(folder):
    """The sentiment word comes after 12 filler words: a 6-token window from the start never sees it."""
    rng = random.Random(0)
    paths = []
    for split, n in (("train", 96), ("validation", 24), ("test", 40)):
        path = folder / f"{split}.csv"
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["text", "label"])
            for i in range(n):
                label = "positive" if i % 2 else "negative"
                word = rng.choice(["great", "lovely", "superb"] if i % 2 else ["awful", "boring", "dreadful"])
                writer.writerow([" ".join(rng.choices(FILLER, k=12) + [word] + rng.choices(FILLER, k=2)), label])
        paths += [f"--{split}_file", str(path)]
    return paths


SMALL = ["--embedding_dim", "16", "--num_filters", "16", "--num_train_epochs", "4", "--learning_rate", "1e-2",
         "--per_device_train_batch_size", "16", "--max_seq_length", "6", "--disable_tqdm", "true",
         "--eval_strategy", "no", "--save_strategy", "no", "--load_best_model_at_end", "false"]


def test_chunking_sees_what_truncation_cuts_off(tmp_path):
    files = long_text_files(tmp_path)
    truncated = run([*files, *SMALL, "--output_dir", str(tmp_path / "truncate")])
    chunked = run([*files, *SMALL, "--long_text", "chunk", "--chunk_stride", "2", "--output_dir", str(tmp_path / "chunk")])
    assert truncated["test_accuracy"] <= 0.75 and chunked["test_accuracy"] >= 0.9, (truncated, chunked)
    weighted = run([*files, *SMALL, "--long_text", "chunk", "--chunk_stride", "2", "--chunk_weighting", "text",
                    "--output_dir", str(tmp_path / "weighted")])
    # every text here is cut into as many windows as any other: each weight is 1, and the training the same
    assert weighted["train_loss"] == pytest.approx(chunked["train_loss"], rel=1e-5), (weighted, chunked)

    config = json.loads((tmp_path / "chunk" / "config.json").read_text())
    assert (config["long_text"], config["chunk_max_length"], config["chunk_stride"]) == ("chunk", 6, 2)
    # predict cuts texts as the model was trained, one row per text
    rows = list(csv.DictReader(open(files[5])))
    (tmp_path / "in.txt").write_text("\n".join(row["text"] for row in rows))
    out = tmp_path / "out.jsonl"
    assert cli_main(["predict", "--model", str(tmp_path / "chunk"), str(tmp_path / "in.txt"), "-o", str(out)]) == 0
    predictions = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(predictions) == len(rows)
    assert np.mean([p["label"] == row["label"] for p, row in zip(predictions, rows)]) == chunked["test_accuracy"]
    model, tokenizer = load_checkpoint(str(tmp_path / "chunk"))
    expected = window_logits_by_hand(model, tokenizer, [row["text"] for row in rows[:5]], 6, 2)
    np.testing.assert_allclose(predict_logits(model, tokenizer, [row["text"] for row in rows[:5]]), expected, atol=1e-5)


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--long_text", "window"], "Unknown --long_text 'window'"),
        (["--long_text", "chunk", "--chunk_weighting", "post"], "Unknown --chunk_weighting 'post'"),
        (["--long_text", "chunk", "--chunk_stride", "-1"], "--chunk_stride must be a number of tokens >= 0"),
        (["--long_text", "chunk", "--chunk_stride", "6"], "--chunk_stride 6 must be below the 6 text tokens"),
    ],
)
def test_bad_long_text_flags_are_one_line_errors(flags, message, tmp_path, capsys):
    code = cli_main(["train", *long_text_files(tmp_path), *SMALL, *flags, "--output_dir", str(tmp_path / "run")])
    assert_one_line_error(code, capsys.readouterr().err, message)
    (tmp_path / "in.txt").write_text("some text\n")
    code = cli_main(["predict", "--model", str(tmp_path), str(tmp_path / "in.txt"), *flags[:2]])
    if flags[1] == "window":
        assert_one_line_error(code, capsys.readouterr().err, message)


def test_chunking_needs_a_fast_tokenizer():
    class Slow:  # what a slow (Python) tokenizer reports
        is_fast = False

    with pytest.raises(TextclsError, match="needs a fast tokenizer; Slow is a slow one"):
        window_stride(Slow(), 8, 2)
