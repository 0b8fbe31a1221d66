"""textcls.model_card: Hub metadata that parses back, and the readable parts of the card."""

import os

import pytest
from huggingface_hub import ModelCard

from textcls.errors import TextclsError
from textcls.model_card import write_model_card

METRICS = {
    "eval_loss": 0.31,
    "eval_accuracy": 0.912345,
    "eval_f1_macro": 0.9,
    "eval_runtime": 1.5,
    "eval_samples_per_second": 100.0,
    "test_accuracy": 0.88888,
    "test_f1_macro": 0.87654321,
    "test_mcc": 0.7,
    "train_loss": 0.2,
    "epoch": 3.0,
}
ARGS = {
    "learning_rate": 2e-4,
    "num_train_epochs": 3,
    "per_device_train_batch_size": 16,
    "seed": 42,
    "lora": {"r": 8, "alpha": 16, "target_modules": ["q_proj", "v_proj"]},
}


def write(tmp_path, **overrides):
    kwargs = dict(
        model_type="textcnn",
        base_model=None,
        dataset_name="imdb",
        problem_type="single_label_classification",
        label_names=["negative", "positive"],
        metrics=METRICS,
        training_args=ARGS,
    )
    kwargs.update(overrides)
    return write_model_card(tmp_path, **kwargs)


def test_metadata_parses_back(tmp_path):
    path = write(tmp_path, base_model="HuggingFaceTB/SmolLM2-135M", model_type="llama", repo_id="me/sst")
    assert path == tmp_path / "README.md"
    assert os.listdir(tmp_path) == ["README.md"]  # atomic write left no temp file

    card = ModelCard.load(path)
    data = card.data
    assert data.library_name == "transformers"
    assert data.pipeline_tag == "text-classification"
    assert data.tags == ["textcls", "text-classification", "llama"]
    assert data.datasets == ["imdb"]
    assert data.base_model == "HuggingFaceTB/SmolLM2-135M"
    assert data.model_name == "sst"

    results = {(r.dataset_split, r.metric_type, r.metric_name): r for r in data.eval_results}
    assert {r.task_type for r in data.eval_results} == {"text-classification"}
    assert {(r.dataset_name, r.dataset_type) for r in data.eval_results} == {("imdb", "imdb")}
    assert results[("validation", "accuracy", "Accuracy")].metric_value == pytest.approx(0.912345)
    assert results[("test", "f1", "F1 (macro)")].metric_value == pytest.approx(0.876543)
    assert results[("test", "f1", "F1 (macro)")].metric_args == {"average": "macro"}
    assert results[("test", "matthews_correlation", "Matthews correlation")].metric_value == 0.7
    # loss and runtime are not claimed as Hub results
    assert {r.metric_type for r in data.eval_results} == {"accuracy", "f1", "matthews_correlation"}

    # the raw front matter has the Hub's model-index shape
    front = card.content.split("---")[1]
    assert "model-index:" in front and "task:\n      type: text-classification" in front


def test_body_has_table_labels_hyperparameters_and_usage(tmp_path):
    text = write(tmp_path, repo_id="me/sst").read_text()
    assert "# sst" in text
    assert "Kim (2014)" in text
    assert "| metric | validation | test |" in text
    assert "| accuracy | 0.9123 | 0.8889 |" in text
    assert "| f1_macro | 0.9000 | 0.8765 |" in text
    assert "| mcc | - | 0.7000 |" in text
    assert "| loss | 0.3100 | - |" in text
    assert "runtime" not in text and "samples_per_second" not in text and "train_loss" not in text
    assert "- `0`: negative" in text and "- `1`: positive" in text
    assert "- learning_rate: `0.0002`" in text
    assert "- lora.r: `8`" in text and "- lora.target_modules: `['q_proj', 'v_proj']`" in text
    assert 'pipeline("text-classification", model="me/sst", trust_remote_code=True)' in text
    assert 'AutoModelForSequenceClassification.from_pretrained("me/sst", trust_remote_code=True)' in text
    assert 'AutoTokenizer.from_pretrained("me/sst", trust_remote_code=True)' in text


@pytest.mark.parametrize(
    "model_type,marker", [("dpcnn", "Johnson & Zhang (2017)"), ("llama", "last"), ("textcls_llama", "last")]
)
def test_family_descriptions(tmp_path, model_type, marker):
    assert marker in write(tmp_path, model_type=model_type).read_text()


def test_local_dataset_and_base_model_paths_stay_out_of_metadata(tmp_path):
    local_base = tmp_path / "base"
    local_base.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    path = write(
        out,
        base_model=str(local_base),
        dataset_name=None,
        problem_type="regression",
        label_names=None,
        metrics={"eval_mse": 0.5, "eval_pearson": 0.8},
        training_args={},
    )
    data = ModelCard.load(path).data
    assert data.base_model is None and data.datasets is None
    assert {r.dataset_type for r in data.eval_results} == {"custom"}
    text = path.read_text()
    assert f"Base model: `{local_base}`" in text  # still documented in the body
    assert "| mse | 0.5000 | - |" in text
    assert "regression" in text.lower()
    assert f'model="{out}"' in text  # no repo_id: the local folder


def test_multilabel_usage_and_no_metrics(tmp_path):
    path = write(tmp_path, problem_type="multi_label_classification", metrics={}, label_names=["a", "b", "c"])
    data = ModelCard.load(path).data
    assert data.eval_results is None
    text = path.read_text()
    assert "No evaluation results" in text
    assert "top_k=None" in text and "sigmoid" in text


def test_bad_input(tmp_path):
    with pytest.raises(TextclsError, match="does not exist"):
        write(tmp_path / "missing")
    with pytest.raises(TextclsError, match="problem_type"):
        write(tmp_path, problem_type="ranking")
    with pytest.raises(TextclsError, match="non-numeric"):
        write(tmp_path, metrics={"eval_accuracy": "high"})


def test_builtin_names_are_not_hub_metadata(tmp_path):
    from huggingface_hub import ModelCard

    from textcls.model_card import write_model_card

    path = write_model_card(
        tmp_path, model_type="llama", base_model="smollm2-135m", dataset_name="movie-snippets",
        problem_type="single_label_classification", label_names=["negative", "positive"],
        metrics={"test_accuracy": 0.8}, training_args={},
    )
    card = ModelCard.load(path)
    assert card.data.datasets is None and card.data.base_model is None
    assert "movie-snippets" in card.text  # still named in the prose
