"""The recipes as scripts: they call the package, and bad input is one line and exit code 2."""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
from test_evaluation import LABELS, TEXTS, make_checkpoint, write_csv

RECIPES = Path(__file__).resolve().parent.parent / "recipes"


def run_recipe(name: str, argv: list[str], monkeypatch) -> int:
    monkeypatch.setattr(sys, "argv", [str(RECIPES / name), *argv])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(RECIPES / name), run_name="__main__")
    return exit_info.value.code


def test_evaluate_recipe_runs_as_a_script(tmp_path):
    ckpt = make_checkpoint(tmp_path / "ckpt", {0: "neg", 1: "pos"})
    csv = write_csv(tmp_path / "new.csv", TEXTS, LABELS)
    out = tmp_path / "out"
    # As a script, Python puts recipes/ first on sys.path: nothing there may shadow a library (`evaluate`).
    result = subprocess.run(
        [sys.executable, str(RECIPES / "evaluate_checkpoint.py"), "--model", str(ckpt), "--test_file", str(csv),
         "--text_column", "text", "--output_dir", str(out)],
        capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((out / "test_results.json").read_text())
    assert results["test_samples"] == len(TEXTS)
    assert ["accuracy", f"{results['test_accuracy']:.4f}"] in [line.split() for line in result.stdout.splitlines()]
    assert (out / "test_confusion_matrix.png").is_file()


def test_evaluate_recipe_bad_input_is_one_line(tmp_path, monkeypatch, capsys):
    ckpt = make_checkpoint(tmp_path / "ckpt", {0: "neg", 1: "pos"})
    code = run_recipe("evaluate_checkpoint.py", ["--model", str(ckpt), "--test_file", str(tmp_path / "nope.csv")],
                      monkeypatch)
    assert code == 2
    err_lines = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(err_lines) == 1
    assert err_lines[0].startswith("textcls: error: test_file") and err_lines[0].endswith("nope.csv' not found; check the path")


def test_finetune_recipe_bad_input_is_one_line_and_debug_shows_the_traceback(tmp_path, monkeypatch, capsys):
    argv = ["--model_type", "bert", "--output_dir", str(tmp_path / "out")]
    assert run_recipe("finetune.py", argv, monkeypatch) == 2
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if line.startswith("textcls: error:")] == [
        next(line for line in err.splitlines() if "Unknown --model_type" in line)
    ]
    assert "Traceback" not in err
    with pytest.raises(Exception, match="Unknown --model_type"):
        run_recipe("finetune.py", [*argv, "--debug"], monkeypatch)
