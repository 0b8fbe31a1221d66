"""Bad input gets one clear line and no partial model; interrupted runs resume; runs are deterministic."""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import transformers
from test_training import REPO, file_args, synthetic_rows, write_csv

from textcls.cli import main as cli_main
from textcls.errors import TextclsError
from textcls.run_folder import HOLDER_FILE, LOCK_FILE, RUN_FILE, check_resume_matches

TINY = ["--embedding_dim", "16", "--num_filters", "8", "--per_device_train_batch_size", "16",
        "--disable_tqdm", "true", "--num_train_epochs", "2"]


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory):
    """A folder of broken data files and checkpoints, each named for what is wrong with it."""
    folder = tmp_path_factory.mktemp("bad")
    rows = synthetic_rows(40, 0)
    write_csv(folder / "good.csv", rows)
    write_csv(folder / "three_labels.csv", [{**r, "label": ["a", "b", "c"][i % 3]} for i, r in enumerate(rows)])
    write_csv(folder / "unseen.csv", [{**r, "label": "neutral" if i == 0 else r["label"]} for i, r in enumerate(rows)])
    write_csv(folder / "no_text_at_all.csv", [{**r, "text": ""} for r in rows])
    (folder / "empty.csv").write_text("")
    (folder / "data.xml").write_text("<rows/>")
    (folder / "latin1.csv").write_bytes("text,label\ncaf\xe9 good,positive\n".encode("latin-1"))
    (folder / "ragged.csv").write_text("text,label\na,b,c,d\nx,y\n")
    (folder / "broken.jsonl").write_text('{"text": "a", "label": "x"}\n{"text": \n')
    (folder / "body.csv").write_text("body,label\nhello,positive\n")
    (folder / "no_label.csv").write_text("text,label\nhello,positive\nworld,\nfoo,negative\n")
    (folder / "mixed.jsonl").write_text('{"text": "a", "label": "x"}\n{"text": "b", "label": 3}\n')
    (folder / "texts.txt").write_text("a good film\n")
    write_csv(folder / "other_rows.csv", synthetic_rows(40, 5))  # the same labels, other texts
    write_csv(folder / "one_class.csv", [{**r, "label": "positive"} for r in rows])
    scores = [{"text": r["text"], "label": 0.25 * (i % 7)} for i, r in enumerate(rows)]
    write_csv(folder / "scores.csv", scores)
    (folder / "tags.jsonl").write_text("".join(json.dumps({"text": r["text"], "tags": [r["label"]]}) + "\n" for r in rows))
    write_csv(folder / "scores_inf.csv", [{**r, "label": "inf" if i == 3 else r["label"]} for i, r in enumerate(scores)])
    # pandas' default DataFrame.to_json: {"text": {"0": ..., "1": ...}, "label": {...}}
    columns = {key: {str(i): r[key] for i, r in enumerate(rows)} for key in ("text", "label")}
    (folder / "columns.json").write_text(json.dumps(columns))
    (folder / "unreadable.csv").write_bytes((folder / "good.csv").read_bytes())
    (folder / "unreadable.csv").chmod(0)
    (folder / "read_only").mkdir()
    (folder / "read_only").chmod(0o555)
    (folder / "user_folder").mkdir()
    (folder / "user_folder" / "notes.txt").write_text("not a textcls run\n")
    transformers.GPT2LMHeadModel(transformers.GPT2Config(n_layer=1, n_embd=8, n_head=2, vocab_size=50)).save_pretrained(
        folder / "gpt2"
    )
    (folder / "no_config").mkdir()
    (folder / "no_config" / "model.safetensors").write_bytes(b"\0" * 16)

    trained = folder / "trained"
    assert cli_main(["train", "--train_file", str(folder / "good.csv"), *TINY, "--output_dir", str(trained)]) == 0
    truncated = folder / "truncated"
    truncated.mkdir()
    for item in trained.iterdir():
        if item.is_file():
            data = item.read_bytes()
            (truncated / item.name).write_bytes(data[: len(data) // 2] if item.name == "model.safetensors" else data)
    shutil.copytree(trained, folder / "no_tokenizer", ignore=shutil.ignore_patterns("tokenizer*"))
    # A run that stopped after its last checkpoint: it has checkpoints and no all_results.json.
    shutil.copytree(trained, folder / "unfinished")
    (folder / "unfinished" / "all_results.json").unlink()
    shutil.copytree(trained, folder / "data_in_run")  # a previous run, with the user's data file in its folder
    write_csv(folder / "data_in_run" / "train.csv", rows)
    return folder


def checksums(folder):
    """Every file under `folder` and its sha256, except the lock a run takes (our own bookkeeping)."""

    def sha256(path):
        try:
            return hashlib.sha256(path.read_bytes()).hexdigest()
        except PermissionError:  # unreadable.csv, for a user without root rights
            return "unreadable"

    return {str(path.relative_to(folder)): sha256(path) for path in sorted(Path(folder).rglob("*"))
            if path.is_file() and path.name not in (LOCK_FILE, HOLDER_FILE)}


# Cases about file permissions, which root does not have: as root, os.access answers from the permission bits.
PERMISSION_CASES = {"unreadable train file", "output_dir not writable"}


def access_from_permission_bits(path, mode, **kwargs):
    """os.access as for the files' owner without root rights (the test's files are all its own)."""
    bits = os.stat(path).st_mode
    needed = (0o400 if mode & os.R_OK else 0) | (0o200 if mode & os.W_OK else 0) | (0o100 if mode & os.X_OK else 0)
    return bits & needed == needed


# (arguments after the command, with {d} the folder above) -> a part of the one-line message
TRAIN_CASES = {
    "missing file": (["--train_file", "{d}/nope.csv"], "train_file '{d}/nope.csv' not found"),
    "unsupported extension": (["--train_file", "{d}/data.xml"], "unsupported extension '.xml'; supported: .csv"),
    "empty file": (["--train_file", "{d}/empty.csv"], "is empty"),
    "not utf-8": (["--train_file", "{d}/latin1.csv"], "is not UTF-8 text"),
    "malformed csv": (["--train_file", "{d}/ragged.csv"], "line 2 has 4 fields but the header has 2"),
    "malformed json": (["--train_file", "{d}/broken.jsonl"], "could not read train_file"),
    "missing text column": (["--train_file", "{d}/body.csv"], "its columns are: body, label"),
    "missing label column": (["--train_file", "{d}/good.csv", "--label_column", "sentiment"],
                             "label column 'sentiment' not in the train split; its columns are: text, label"),
    "all texts empty": (["--train_file", "{d}/no_text_at_all.csv"], "empty"),
    "missing labels": (["--train_file", "{d}/no_label.csv"], "1 of 3 rows in the train split have no label"),
    "mixed label types": (["--train_file", "{d}/mixed.jsonl"], "mixes value types"),
    "label unseen in train": (["--train_file", "{d}/good.csv", "--test_file", "{d}/unseen.csv"], "neutral"),
    "unknown model type": (["--model_type", "bert"], "Unknown --model_type 'bert'; choose one of textcnn, dpcnn,"),
    "unknown corpus": (["--dataset", "no-such-corpus"], "is neither a builtin name (movie-snippets"),
    "unknown embeddings": (["--pretrained_embeddings", "glove-7b"], "Unknown --pretrained_embeddings 'glove-7b'"),
    "unknown embedding mode": (["--embedding_mode", "dynamic"], "Unknown --embedding_mode 'dynamic'"),
    "not a llama checkpoint": (["--train_file", "{d}/good.csv", "--model_type", "llama", "--model_name_or_path",
                                "{d}/gpt2"], "is a 'gpt2' checkpoint, not a Llama-architecture one"),
    "head does not fit the data": (["--train_file", "{d}/three_labels.csv", "--model_name_or_path", "{d}/trained"],
                                   "has a head for 2 labels but the data has 3: pass --ignore_mismatched_sizes"),
    "checkpoint without config": (["--train_file", "{d}/good.csv", "--model_name_or_path", "{d}/no_config"],
                                  "has no config.json"),
    "corrupt weights": (["--train_file", "{d}/good.csv", "--model_name_or_path", "{d}/truncated"],
                        "the weights file is truncated or corrupt"),
    "missing gguf file": (["--train_file", "{d}/good.csv", "--model_type", "llama", "--model_name_or_path",
                           "{d}/no_config", "--gguf_file", "model.gguf"], "has no GGUF file model.gguf: check --gguf_file"),
    "max_seq_length under widest kernel": (["--train_file", "{d}/good.csv", "--max_seq_length", "3"],
                                           "--max_seq_length 3 is shorter than the widest TextCNN kernel (5)"),
    "lora targets match nothing": (["--train_file", "{d}/good.csv", "--use_lora", "--lora_target_modules", "q_proj"],
                                   "match nothing in this textcnn model; module names that exist:"),
    "unknown flag": (["--learning_rat", "0.1"], "Unknown argument(s) --learning_rat 0.1"),  # no prefix matching
    "conflicting trainer flags": (["--eval_strategy", "no"], "Invalid arguments:"),
    "not a number": (["--num_train_epochs", "two"], "--num-train-epochs: invalid float value: 'two'"),
    "negative number read as a flag": (["--learning_rate", "-1e-3"],
                                       "--learning-rate: expected one argument (write a negative number as --flag=-1)"),
    # Values only torch, transformers or peft would check, late and with a traceback.
    "batch size 0": (["--train_file", "{d}/good.csv", "--per_device_train_batch_size", "0"],
                     "--per_device_train_batch_size 0 is not valid: use a whole number of at least 1"),
    "eval batch size 0": (["--train_file", "{d}/good.csv", "--per_device_eval_batch_size", "0"],
                          "--per_device_eval_batch_size 0 is not valid"),
    "negative learning rate": (["--train_file", "{d}/good.csv", "--learning_rate", "-0.1"],
                               "--learning_rate -0.1 is not valid: use a number greater than 0"),
    "lora_r 0": (["--train_file", "{d}/good.csv", "--use_lora", "--lora_r", "0"], "--lora_r 0 is not valid"),
    "DoRA without LoRA": (["--train_file", "{d}/good.csv", "--use_dora"],
                          "--use_dora trains LoRA adapters of another kind: add --use_lora, or drop --use_dora."),
    "prompt suffix on a word-level family": (["--train_file", "{d}/good.csv", "--prompt_suffix", "topic:"],
                                             "--prompt_suffix applies to llama (a decoder that pools its last token), not textcnn."),
    "padding-free batches on a word-level family": (
        ["--train_file", "{d}/good.csv", "--padding_free"],
        "--padding_free packs a batch's texts into one row, which only llama pools text by text; not textcnn."),
    "padding_free not a yes or no": (["--train_file", "{d}/good.csv", "--padding_free", "maybe"],
                                     "--padding_free/--padding-free: Truthy value expected: got maybe"),
    "dropout over 1": (["--train_file", "{d}/good.csv", "--dropout", "2"],
                       "--dropout 2.0 is not valid: use a number from 0 up to (not including) 1"),
    "kernel size 0": (["--train_file", "{d}/good.csv", "--kernel_sizes", "0", "3"], "--kernel_sizes 0 is not valid"),
    "label smoothing of 1": (["--train_file", "{d}/good.csv", "--label_smoothing_factor", "1"],
                             "--label_smoothing_factor 1.0 is not valid: use a number from 0 up to (not including) 1."),
    # The Trainer's label smoothing needs one class per text.
    "label smoothing on multi-label data": (
        ["--train_file", "{d}/tags.jsonl", "--label_column", "tags", "--label_smoothing_factor", "0.1"],
        "--label_smoothing_factor applies to single-label classification only; this data is multi_label_classification."),
    "label smoothing on regression data": (
        ["--train_file", "{d}/scores.csv", "--label_smoothing_factor", "0.1"],
        "--label_smoothing_factor applies to single-label classification only; this data is regression."),
    "zero epochs": (["--train_file", "{d}/good.csv", "--num_train_epochs", "0"],
                    "--num_train_epochs 0 trains for zero steps"),
    "zero max_steps": (["--train_file", "{d}/good.csv", "--max_steps", "0"], "--max_steps 0 trains for zero steps"),
    # Labels, checked in every split before training.
    "one class": (["--train_file", "{d}/one_class.csv"],
                  "the labels have only one class ('positive'): classification needs at least two classes"),
    "infinite regression label": (["--train_file", "{d}/scores_inf.csv"],
                                  "split has 1 regression label(s) that are not finite numbers (e.g. inf)"),
    "infinite regression label in test only": (["--train_file", "{d}/scores.csv", "--test_file", "{d}/scores_inf.csv"],
                                               "the test split has 1 regression label(s) that are not finite"),
    "column-oriented json": (["--train_file", "{d}/columns.json"],
                             'holds one JSON object of columns; textcls reads a list of records ([{{"text": ..., '
                             '"label": ...}}, ...]) or JSON lines'),
    # Paths.
    "unreadable train file": (["--train_file", "{d}/unreadable.csv"],
                              "--train_file {d}/unreadable.csv cannot be read: no read permission"),
    "output_dir is a file": (["--train_file", "{d}/good.csv", "--output_dir", "{d}/good.csv"],
                             "--output_dir {d}/good.csv is a file"),
    "output_dir under a file": (["--train_file", "{d}/good.csv", "--output_dir", "{d}/good.csv/run"],
                                "cannot be created: {d}/good.csv is a file"),
    "output_dir not writable": (["--train_file", "{d}/good.csv", "--output_dir", "{d}/read_only/run"],
                                "cannot be written: no write permission on {d}/read_only"),
    # The output folder: finished runs, --overwrite_output_dir, resume.
    "finished run": (["--train_file", "{d}/good.csv", "--output_dir", "{d}/trained"],
                     "{d}/trained already holds a finished run: pass --overwrite_output_dir or another --output_dir"),
    "overwrite, typo in train_file": (["--train_file", "{d}/typo.csv", "--output_dir", "{d}/trained",
                                       "--overwrite_output_dir"], "train_file '{d}/typo.csv' not found"),
    "overwrite, bad model flag": (["--train_file", "{d}/good.csv", "--output_dir", "{d}/trained",
                                   "--overwrite_output_dir", "--max_seq_length", "3"], "--max_seq_length 3 is shorter"),
    "overwrite, bad test labels": (["--train_file", "{d}/good.csv", "--test_file", "{d}/unseen.csv", "--output_dir",
                                    "{d}/trained", "--overwrite_output_dir"], "neutral"),
    "overwrite, data in output_dir": (["--train_file", "{d}/data_in_run/train.csv", "--validation_file", "{d}/typo.csv",
                                       "--output_dir", "{d}/data_in_run", "--overwrite_output_dir"], "not found"),
    "overwrite a folder that is not a run": (["--train_file", "{d}/good.csv", "--output_dir", "{d}/user_folder",
                                              "--overwrite_output_dir"],
                                             "--overwrite_output_dir refused: {d}/user_folder does not look like a textcls run"),
    "resume after the data changed": (["--train_file", "{d}/other_rows.csv", "--output_dir", "{d}/unfinished"],
                                      "Cannot resume from {d}/unfinished/checkpoint-6: the training or validation data "
                                      "changed. Pass --overwrite_output_dir to start again, or choose another --output_dir"),
    "resume after a model flag changed": (["--train_file", "{d}/good.csv", "--output_dir", "{d}/unfinished",
                                           "--embedding_dim", "32"], "--embedding_dim was 16, now 32"),
    "resume after --long_text changed": (["--train_file", "{d}/good.csv", "--output_dir", "{d}/unfinished",
                                          "--long_text", "chunk"], "--long_text was truncate, now chunk"),
    "resume after --chunk_weighting changed": (["--train_file", "{d}/good.csv", "--output_dir", "{d}/unfinished",
                                                "--chunk_weighting", "text"], "--chunk_weighting was window, now text"),
}
OTHER_CASES = {
    "predict: no config": (["predict", "--model", "{d}/no_config", "{d}/texts.txt"], "has no config.json"),
    "predict: corrupt weights": (["predict", "--model", "{d}/truncated", "{d}/texts.txt"], "truncated or corrupt"),
    "predict: missing input": (["predict", "--model", "{d}/trained", "{d}/nope.txt"], "nope.txt' not found; check the path"),
    "predict: no text column": (["predict", "--model", "{d}/trained", "{d}/body.csv"], "column(s) 'text' not in the input file"),
    "evaluate: unknown label": (["evaluate", "--model", "{d}/trained", "--test_file", "{d}/unseen.csv"], "neutral"),
    "evaluate: corrupt weights": (["evaluate", "--model", "{d}/truncated", "--test_file", "{d}/good.csv"],
                                  "truncated or corrupt"),
    "predict: batch size 0": (["predict", "--model", "{d}/trained", "{d}/texts.txt", "--batch_size", "0"],
                              "--batch_size 0 is not valid"),
    "predict: output into a missing folder": (["predict", "--model", "{d}/trained", "{d}/texts.txt", "-o",
                                               "{d}/no_such_folder/out.csv"],
                                              "--output {d}/no_such_folder/out.csv: the folder {d}/no_such_folder does "
                                              "not exist"),
    "predict: no tokenizer files": (["predict", "--model", "{d}/no_tokenizer", "{d}/texts.txt"],
                                    "{d}/no_tokenizer has no tokenizer files"),
    "evaluate: no tokenizer files": (["evaluate", "--model", "{d}/no_tokenizer", "--test_file", "{d}/good.csv"],
                                     "{d}/no_tokenizer has no tokenizer files"),
    "evaluate: output_dir is a file": (["evaluate", "--model", "{d}/trained", "--test_file", "{d}/good.csv",
                                        "--output_dir", "{d}/good.csv"], "--output_dir {d}/good.csv is a file"),
}


def run_cli(argv, capsys):
    code = cli_main(argv)
    return code, capsys.readouterr().err


@pytest.mark.parametrize("case", [*TRAIN_CASES, *OTHER_CASES])
def test_bad_input_is_one_clear_line_and_writes_no_model(case, bad_inputs, tmp_path, capsys, monkeypatch):
    args, expected = TRAIN_CASES.get(case) or OTHER_CASES[case]
    argv = [a.format(d=bad_inputs) for a in args]
    output_dir = tmp_path / "out"
    if case in TRAIN_CASES:  # the case's flags last: they win over TINY's and the default --output_dir
        argv = ["train", *TINY, "--output_dir", str(output_dir), *argv]
    before = checksums(bad_inputs)
    if case in PERMISSION_CASES and os.geteuid() == 0:
        monkeypatch.setattr(os, "access", access_from_permission_bits)
    code, err = run_cli(argv, capsys)
    assert code == 2
    error_lines = [line for line in err.splitlines() if line.startswith("textcls: error:")]
    assert len(error_lines) == 1, err
    assert expected.format(d=bad_inputs) in error_lines[0]
    assert len(error_lines[0]) <= 300
    assert "Traceback" not in err
    assert not output_dir.exists()  # nothing written, not even an empty folder
    assert checksums(bad_inputs) == before  # the previous model, data files, the user's files: all untouched


def test_debug_shows_the_traceback(bad_inputs, capsys):
    with pytest.raises(Exception, match="Unknown --model_type"):
        cli_main(["--debug", "train", "--model_type", "bert"])


def test_empty_texts_are_dropped_and_counted(bad_inputs, tmp_path, caplog):
    rows = synthetic_rows(40, 1)
    rows[3]["text"] = "   "
    rows[7]["text"] = ""
    write_csv(tmp_path / "holes.csv", rows)
    assert cli_main(["train", "--train_file", str(tmp_path / "holes.csv"), *TINY, "--output_dir", str(tmp_path / "o")]) == 0
    assert "dropped 2 rows with empty text from the train split" in caplog.text


# ---- interruption, resume, determinism ---------------------------------------------------------

RUN_WITH_HOOK = """
import os, signal, sys
from transformers import TrainerCallback
import textcls.training as training
from textcls.cli import main

signal_name, at_step = sys.argv[1], int(sys.argv[2])

class SendSignal(TrainerCallback):
    # SIGKILL right after a checkpoint is written; SIGINT in the middle of training
    def on_save(self, args, state, control, **kwargs):
        if signal_name == "SIGKILL" and state.global_step >= at_step:
            os.kill(os.getpid(), signal.SIGKILL)
    def on_step_end(self, args, state, control, **kwargs):
        if signal_name == "SIGINT" and state.global_step == at_step:
            os.kill(os.getpid(), signal.SIGINT)

original_init = training.TextclsTrainer.__init__
def init_with_signal(self, *args, **kwargs):
    original_init(self, *args, **kwargs)
    self.add_callback(SendSignal())
training.TextclsTrainer.__init__ = init_with_signal
sys.exit(main(["train", *sys.argv[3:]]))
"""


@pytest.fixture(scope="module")
def resumable_args(tmp_path_factory):
    folder = tmp_path_factory.mktemp("resume-data")
    files = {split: write_csv(folder / f"{split}.csv", synthetic_rows(n, seed))
             for split, n, seed in (("train", 160, 0), ("validation", 40, 1), ("test", 40, 2))}
    # 10 steps an epoch, 3 epochs, a checkpoint every 4 steps: interruptions land mid-epoch.
    return [*file_args(files), *TINY, "--num_train_epochs", "3", "--eval_strategy", "steps", "--eval_steps", "4",
            "--save_strategy", "steps", "--save_steps", "4", "--save_total_limit", "3"]


def final_metrics(output_dir):
    """Everything but timings, and train_loss: after a resume the Trainer averages it over the resumed
    steps only, by its own definition; eval and test metrics must match exactly."""
    metrics = json.loads((Path(output_dir) / "all_results.json").read_text())
    return {k: v for k, v in metrics.items() if not k.endswith(("runtime", "per_second", "flos", "train_loss"))}


@pytest.fixture(scope="module")
def uninterrupted(resumable_args, tmp_path_factory):
    output_dir = tmp_path_factory.mktemp("baseline") / "run"
    assert cli_main(["train", *resumable_args, "--output_dir", str(output_dir)]) == 0
    return final_metrics(output_dir)


def test_same_command_same_seed_same_metrics(resumable_args, uninterrupted, tmp_path):
    assert cli_main(["train", *resumable_args, "--output_dir", str(tmp_path / "again")]) == 0
    assert final_metrics(tmp_path / "again") == uninterrupted


def run_with_signal(signal_name, at_step, args, tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-c", RUN_WITH_HOOK, signal_name, str(at_step), *args],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=600)


def test_killed_run_resumes_to_the_same_metrics(resumable_args, uninterrupted, tmp_path, caplog):
    """Also: a newer checkpoint the Trainer did not finish writing is skipped, and the killed run's lock taken over."""
    args = [*resumable_args, "--output_dir", str(tmp_path / "run")]
    killed = run_with_signal("SIGKILL", 12, args, tmp_path)
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert (tmp_path / "run" / "checkpoint-12").is_dir()
    assert not (tmp_path / "run" / "config.json").exists()  # no final model from a killed run
    # As if a kill had come while the Trainer wrote checkpoint-16: trainer_state.json is what it writes last.
    shutil.copytree(tmp_path / "run" / "checkpoint-12", tmp_path / "run" / "checkpoint-16",
                    ignore=shutil.ignore_patterns("trainer_state.json"))
    killed_pid = json.loads((tmp_path / "run" / HOLDER_FILE).read_text())["pid"]  # it never released its lock

    assert cli_main(["train", *args]) == 0  # the very same command
    assert final_metrics(tmp_path / "run") == uninterrupted
    assert "Skipping checkpoint-16: the Trainer did not finish writing it" in caplog.text
    assert re.search(r"Resuming from \S*checkpoint-12\b", caplog.text)
    assert f"Taking over {tmp_path / 'run'} from a run that ended without releasing it (pid {killed_pid} on" in caplog.text


def test_ctrl_c_saves_a_checkpoint_and_the_same_command_resumes(resumable_args, uninterrupted, tmp_path):
    args = [*resumable_args, "--output_dir", str(tmp_path / "run")]
    interrupted = run_with_signal("SIGINT", 6, args, tmp_path)
    assert interrupted.returncode == 130, interrupted.stderr[-2000:]
    # The signal lands during step 6's callbacks: training stops at the end of step 6 or 7, not later.
    stopped = re.search(r"Training interrupted at step (\d+); a checkpoint is in .*: run the same command again",
                        interrupted.stderr)
    assert stopped and int(stopped.group(1)) in (6, 7), interrupted.stderr[-2000:]
    assert (tmp_path / "run" / f"checkpoint-{stopped.group(1)}" / "trainer_state.json").exists()
    assert not (tmp_path / "run" / "config.json").exists()

    assert cli_main(["train", *args]) == 0
    assert final_metrics(tmp_path / "run") == uninterrupted


def test_ctrl_c_mid_epoch_does_not_evaluate_a_part_epoch_model(resumable_args, tmp_path):
    # The defaults evaluate and save each epoch: a stop at step 6 of 10 must not run validation on the way out.
    args = [*resumable_args, "--eval_strategy", "epoch", "--save_strategy", "epoch", "--output_dir", str(tmp_path / "run")]
    interrupted = run_with_signal("SIGINT", 6, args, tmp_path)
    assert interrupted.returncode == 130, interrupted.stderr[-2000:]
    stopped = int(re.search(r"Training interrupted at step (\d+)", interrupted.stderr).group(1))
    state = json.loads((tmp_path / "run" / f"checkpoint-{stopped}" / "trainer_state.json").read_text())
    assert stopped < 10 and state["best_metric"] is None
    assert not [entry for entry in state["log_history"] if "eval_accuracy" in entry], state["log_history"]
    assert sorted(path.name for path in (tmp_path / "run").glob("checkpoint-*")) == [f"checkpoint-{stopped}"]


def test_final_model_is_moved_into_place_config_last(tmp_path, monkeypatch):
    """A crash while the final model is being moved leaves no config.json: not a loadable model."""
    from conftest import tiny_model

    import textcls.training as training

    model = tiny_model("textcnn", num_labels=2)
    tokenizer = __import__("textcls").train_word_tokenizer(["a b c"])
    moved = []
    real_replace = os.replace

    def replace_then_crash(source, target):
        moved.append(Path(target).name)
        if Path(target).name == "config.json":
            raise OSError("disk full")
        real_replace(source, target)

    monkeypatch.setattr(training.os, "replace", replace_then_crash)
    with pytest.raises(OSError, match="disk full"):
        training.save_final_model(model, tokenizer, tmp_path)
    assert moved[-1] == "config.json" and "model.safetensors" in moved
    assert not (tmp_path / "config.json").exists()


# ---- the output folder: one run at a time, a safe overwrite -----------------------------------


PAUSED_RUN = """
import pathlib, sys, time
from transformers import TrainerCallback
import textcls.training as training
from textcls.cli import main

go, paused = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])

class Pause(TrainerCallback):
    # holds the output folder, mid-training, until the test says go
    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == 1:
            paused.touch()
            for _ in range(3000):
                if go.exists():
                    break
                time.sleep(0.1)

original_init = training.TextclsTrainer.__init__
def init_with_pause(self, *args, **kwargs):
    original_init(self, *args, **kwargs)
    self.add_callback(Pause())
training.TextclsTrainer.__init__ = init_with_pause
sys.exit(main(["train", *sys.argv[3:]]))
"""


def test_a_second_run_on_the_same_folder_is_refused(resumable_args, tmp_path, capsys):
    output_dir = tmp_path / "run"
    args = [*resumable_args, "--num_train_epochs", "1", "--output_dir", str(output_dir)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    first = subprocess.Popen([sys.executable, "-c", PAUSED_RUN, str(tmp_path / "go"), str(tmp_path / "paused"), *args],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
    try:
        for _ in range(3000):
            if (tmp_path / "paused").exists() or first.poll() is not None:
                break
            time.sleep(0.1)
        assert first.poll() is None, first.communicate()[1][-2000:]
        before = checksums(output_dir)

        code, err = run_cli(["train", *args], capsys)  # the same command, while the first one trains
        assert code == 2
        assert f"textcls: error: --output_dir {output_dir} is in use by another textcls run (pid {first.pid} on " in err
        assert "wait for it to end, or choose another --output_dir" in err
        assert checksums(output_dir) == before
    finally:
        (tmp_path / "go").touch()
        out, err = first.communicate(timeout=600)
    assert first.returncode == 0, err[-2000:]
    assert (output_dir / "all_results.json").exists() and (output_dir / "config.json").exists()
    assert not (output_dir / HOLDER_FILE).exists()  # released


def test_overwrite_that_fails_keeps_the_previous_model_and_one_that_works_removes_only_run_files(
    bad_inputs, tmp_path, capsys
):
    from textcls.inference import label_predictions, load_checkpoint, predict_logits

    run_dir = tmp_path / "run"
    shutil.copytree(bad_inputs / "trained", run_dir)
    (run_dir / "notes.txt").write_text("the user's own notes\n")
    data = write_csv(run_dir / "train.csv", synthetic_rows(40, 3))  # read by the run: never removed
    before = checksums(run_dir)
    overwrite = ["train", *TINY, "--output_dir", str(run_dir), "--overwrite_output_dir", "--train_file", data]

    code, err = run_cli([*overwrite, "--test_file", str(bad_inputs / "unseen.csv")], capsys)  # fails on the test split
    assert code == 2 and "neutral" in err
    assert checksums(run_dir) == before
    model, tokenizer = load_checkpoint(str(run_dir))
    [prediction] = label_predictions(model, predict_logits(model, tokenizer, ["a great and lovely film"]))
    assert prediction["label"] in ("positive", "negative")

    old_checkpoints = sorted(p.name for p in run_dir.glob("checkpoint-*"))
    assert old_checkpoints
    code, err = run_cli([*overwrite, "--num_train_epochs", "1", "--save_strategy", "no",
                         "--load_best_model_at_end", "false"], capsys)
    assert code == 0, err
    assert not list(run_dir.glob("checkpoint-*"))  # the previous run's checkpoints are gone
    after = checksums(run_dir)
    assert after["notes.txt"] == before["notes.txt"] and after["train.csv"] == before["train.csv"]
    assert after["model.safetensors"] != before["model.safetensors"]
    assert json.loads((run_dir / "all_results.json").read_text())["epoch"] == 1.0


def test_a_run_recorded_before_chunk_weighting_resumes_only_with_its_window_weighting(tmp_path):
    fingerprint = {"model": {"embedding_dim": 16}, "long_text": {"long_text": "chunk", "chunk_stride": None},
                   "max_seq_length": 8, "problem_type": "single_label_classification", "labels": ["a", "b"], "data": "x"}
    (tmp_path / RUN_FILE).write_text(json.dumps(fingerprint))  # as runs recorded it before --chunk_weighting
    now = {**fingerprint, "long_text": {**fingerprint["long_text"], "chunk_weighting": "window"}}
    check_resume_matches(tmp_path, tmp_path / "checkpoint-6", now)  # what those runs trained with: no error
    now["long_text"]["chunk_weighting"] = "text"
    with pytest.raises(TextclsError, match=r"--chunk_weighting was window \(this run predates the flag\), now text"):
        check_resume_matches(tmp_path, tmp_path / "checkpoint-6", now)
