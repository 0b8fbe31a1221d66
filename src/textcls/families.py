"""The family registry: everything textcls knows about a model family, in one entry each.

The recipe (training.py), the command line, the model card, the benchmarks and the test fixtures
ask this registry; none of them branches on a family's name. Adding a family = one modeling file
in models/ + one `Family` entry in `FAMILIES` below.

A family builds its tokenizer and model in one of two ways, named by `Family.build`:
  - `build_word_level`: a word tokenizer trained on the training split, a new model sized to it,
    optionally initialised with pretrained word vectors (TextCNN, DPCNN);
  - `build_pretrained`: a checkpoint's own tokenizer and weights (Llama), a new head for the labels.
Importing this module registers every family's classes with the transformers Auto classes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification, AutoTokenizer

from . import resources
from .checkpoints import check_checkpoint_labels, checkpoint_errors
from .embeddings import build_embedding_matrix
from .errors import TextclsError
from .models import (
    DPCNNConfig,
    DPCNNForSequenceClassification,
    DPCNNModel,
    FastTextConfig,
    FastTextForSequenceClassification,
    FastTextModel,
    LlamaForSequenceClassification,
    TextCNNConfig,
    TextCNNForSequenceClassification,
    TextCNNModel,
    TextclsLlamaConfig,
    TextclsLlamaModel,
    TextRNNConfig,
    TextRNNForSequenceClassification,
    TextRNNModel,
)
from .tokenization import train_word_tokenizer

if TYPE_CHECKING:
    from .data import TextClassificationData

logger = logging.getLogger(__name__)

# Word vectors used when an embedding mode other than "rand" is asked for without naming any:
# Kim's static / non-static / multichannel modes are about pretrained vectors.
DEFAULT_WORD_VECTORS = "glove-6b-50d"


@dataclass(frozen=True)
class Family:
    """One model family: its classes, how it is built, and the recipe defaults that train it well."""

    name: str  # --model_type on the command line
    title: str  # model card heading
    description: str  # model card text: what the architecture is
    config_class: type
    base_model_class: type
    classifier_class: type
    build: Callable  # build_word_level or build_pretrained: (family, model_args, data, max_seq_length) -> (tokenizer, model)
    max_seq_length: int  # default --max_seq_length
    lora_targets: tuple[str, ...]  # default --lora_target_modules (several names, or one regex)
    # Trainer defaults over COMMON_TRAINING_DEFAULTS (training.py); any flag on the command line wins.
    training_defaults: dict = field(default_factory=dict)
    lora_training_defaults: dict = field(default_factory=dict)  # over training_defaults with --use_lora
    vector_training_defaults: dict = field(default_factory=dict)  # over training_defaults with pretrained vectors
    # ModelArguments fields copied into the config when given (word-level families).
    config_flags: tuple[str, ...] = ()
    # Builtin checkpoint names -> a function returning the cached folder (pretrained families).
    builtin_checkpoints: dict[str, Callable[[], Path]] = field(default_factory=dict)
    default_checkpoint: str | None = None
    # Extra check of a new config against the run's settings; raises TextclsError.
    check_config: Callable | None = None

    @property
    def model_type(self) -> str:
        """The config's `model_type` (what a saved checkpoint says), not always the command-line name."""
        return self.config_class.model_type

    @property
    def word_level(self) -> bool:
        """A tokenizer trained on the data and word vectors (embedding modes) apply to this family."""
        return self.build is build_word_level

    @property
    def pretrained(self) -> bool:
        """Built from a pretrained checkpoint (`--model_name_or_path` names the base model)."""
        return self.build is build_pretrained

    def resolve_checkpoint(self, name_or_path: str | None) -> str | None:
        """A builtin checkpoint name -> its cached folder; anything else (a folder, a Hub id) as given."""
        name_or_path = name_or_path or self.default_checkpoint
        if name_or_path in self.builtin_checkpoints:
            return str(self.builtin_checkpoints[name_or_path]())
        return name_or_path


# ----------------------------------------------------------------------------------------------
# Builders


def label_kwargs(data: TextClassificationData) -> dict:
    """The config fields that fix a model's label space to the data's."""
    return dict(
        num_labels=data.num_labels,
        id2label=data.id2label,
        label2id=data.label2id,
        problem_type=data.problem_type,
    )


def load_checkpoint_for_training(family: Family, model_args, data: TextClassificationData, path: str):
    """Tokenizer and classifier from a checkpoint, with a head for the data's labels."""
    with checkpoint_errors(path):
        check_checkpoint_labels(path, data.num_labels, model_args.ignore_mismatched_sizes)
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForSequenceClassification.from_pretrained(
            path, ignore_mismatched_sizes=model_args.ignore_mismatched_sizes, **label_kwargs(data)
        )
    return tokenizer, model


def build_word_level(family: Family, model_args, data: TextClassificationData, max_seq_length: int):
    """A new word tokenizer trained on the training split and a new model sized to it, or a saved one to continue."""
    if model_args.model_name_or_path:
        return load_checkpoint_for_training(family, model_args, data, model_args.model_name_or_path)
    tokenizer = train_word_tokenizer(
        data.dataset["train"]["text"],
        lowercase=model_args.lowercase,
        min_frequency=model_args.min_frequency,
        max_vocab_size=model_args.max_vocab_size,
        model_max_length=max_seq_length,
        level=model_args.tokenizer_level,
    )
    pretrained = model_args.pretrained_embeddings
    if pretrained is None and model_args.embedding_mode != "rand":
        pretrained = DEFAULT_WORD_VECTORS
        logger.info("embedding_mode %s: using the %s word vectors", model_args.embedding_mode, pretrained)
    vectors = build_embedding_matrix(tokenizer.get_vocab(), name=pretrained) if pretrained else None
    if vectors is not None:
        logger.info("%s covers %.1f%% of the vocabulary", pretrained, 100 * vectors.coverage)
        if model_args.embedding_dim and model_args.embedding_dim != vectors.weights.shape[1]:
            raise TextclsError(
                f"--embedding_dim {model_args.embedding_dim} does not match {pretrained} "
                f"({vectors.weights.shape[1]} dimensions): drop --embedding_dim or use other vectors."
            )

    embedding_dim = vectors.weights.shape[1] if vectors is not None else model_args.embedding_dim
    flags = {name: getattr(model_args, name) for name in family.config_flags if getattr(model_args, name) is not None}
    try:
        config = family.config_class(
            vocab_size=len(tokenizer),
            **({"embedding_dim": embedding_dim} if embedding_dim else {}),  # else the family's own default
            embedding_mode=model_args.embedding_mode,
            pad_token_id=tokenizer.pad_token_id,
            **flags,
            **label_kwargs(data),
        )
    except ValueError as error:  # the config's own checks name the field, which is also the flag's name
        raise TextclsError(f"Invalid {family.name} settings: {str(error).strip().splitlines()[0]}") from error
    if family.check_config is not None:
        family.check_config(config, max_seq_length)
    model = AutoModelForSequenceClassification.from_config(config)
    if vectors is not None:
        model.load_pretrained_embeddings(torch.from_numpy(vectors.weights))
    return tokenizer, model


def build_pretrained(family: Family, model_args, data: TextClassificationData, max_seq_length: int):
    """A pretrained checkpoint's tokenizer and weights, with a (new) head for the data's labels."""
    path = family.resolve_checkpoint(model_args.model_name_or_path)
    with checkpoint_errors(path, model_args.gguf_file):
        check_checkpoint_labels(path, data.num_labels, model_args.ignore_mismatched_sizes)
        # Architecture first: a wrong checkpoint should fail before the (large) weights are read.
        family.config_class.get_config_dict(path, gguf_file=model_args.gguf_file)
        tokenizer = AutoTokenizer.from_pretrained(path, gguf_file=model_args.gguf_file)
        if tokenizer.pad_token is None:
            # Decoder tokenizers often have no pad token; pooling uses the attention mask, so eos is safe here.
            tokenizer.pad_token = tokenizer.eos_token
        model = family.classifier_class.from_pretrained(
            path,
            gguf_file=model_args.gguf_file,
            pad_token_id=tokenizer.pad_token_id,
            attn_implementation=model_args.attn_implementation,
            ignore_mismatched_sizes=model_args.ignore_mismatched_sizes,
            dtype=torch.float32,
            **label_kwargs(data),
        )
    return tokenizer, model


def check_textcnn_length(config: TextCNNConfig, max_seq_length: int) -> None:
    if max_seq_length < max(config.kernel_sizes):
        raise TextclsError(
            f"--max_seq_length {max_seq_length} is shorter than the widest TextCNN kernel "
            f"({max(config.kernel_sizes)}): raise --max_seq_length or narrow --kernel_sizes."
        )


# ----------------------------------------------------------------------------------------------
# The registry

# GloVe-initialised word-level models trained far better with larger steps and longer, chosen on
# validation accuracy (bench/RESULTS.md: lr 1e-3 -> 1e-2 lifted movie-snippets validation from 0.71 to 0.78).
WORD_VECTOR_TRAINING_DEFAULTS = dict(learning_rate=1e-2, num_train_epochs=10)

FAMILIES: dict[str, Family] = {
    family.name: family
    for family in (
        Family(
            name="textcnn",
            title="TextCNN",
            description="A convolutional sentence classifier after Kim (2014), *Convolutional Neural Networks for "
            "Sentence Classification*: word embeddings, parallel 1-D convolutions of several widths, "
            "max-over-time pooling, dropout and a linear classification head.",
            config_class=TextCNNConfig,
            base_model_class=TextCNNModel,
            classifier_class=TextCNNForSequenceClassification,
            build=build_word_level,
            max_seq_length=512,
            lora_targets=(r".*\.convs\.\d+",),
            training_defaults=dict(learning_rate=1e-3, num_train_epochs=5, per_device_train_batch_size=50),
            vector_training_defaults=WORD_VECTOR_TRAINING_DEFAULTS,
            config_flags=("num_filters", "dropout", "kernel_sizes"),
            check_config=check_textcnn_length,
        ),
        Family(
            name="dpcnn",
            title="DPCNN",
            description="A Deep Pyramid CNN after Johnson & Zhang (2017), *Deep Pyramid Convolutional Neural "
            "Networks for Text Categorization*: a region embedding, pre-activation convolution blocks "
            "with shortcut connections, and repeated stride-2 max-pooling down to a single position, "
            "then a linear classification head.",
            config_class=DPCNNConfig,
            base_model_class=DPCNNModel,
            classifier_class=DPCNNForSequenceClassification,
            build=build_word_level,
            max_seq_length=512,
            lora_targets=("region_embedding", "conv1", "conv2"),
            training_defaults=dict(learning_rate=1e-3, num_train_epochs=5, per_device_train_batch_size=64),
            vector_training_defaults=WORD_VECTOR_TRAINING_DEFAULTS,
            config_flags=("num_filters", "dropout"),
        ),
        Family(
            name="fasttext",
            title="fastText",
            description="A bag of tricks classifier after Joulin et al. (2017), *Bag of Tricks for Efficient Text "
            "Classification*: the mean of the word vectors and of hashed word n-gram vectors of a text, an "
            "optional hidden layer and a linear classification head.",
            config_class=FastTextConfig,
            base_model_class=FastTextModel,
            classifier_class=FastTextForSequenceClassification,
            build=build_word_level,
            # A bag of n-grams is cheap per token: keep (almost) whole documents.
            max_seq_length=2048,
            lora_targets=("embed_tokens", "ngram_embeddings"),
            # Chosen on validation (bench/notes.md, "fastText and TextRNN defaults"): batch 256 at lr 2e-2 matches
            # batch 64 at 5e-3 (movie-snippets 0.778 vs 0.783, reuters-r8 0.969 vs 0.964) in a fifth of the time,
            # with the 2**16-bucket n-gram table (the config default): AdamW updates the whole table every step.
            training_defaults=dict(learning_rate=2e-2, num_train_epochs=5, per_device_train_batch_size=256),
            vector_training_defaults=WORD_VECTOR_TRAINING_DEFAULTS,
            config_flags=("dropout", "ngram", "num_buckets", "hidden_size"),
        ),
        Family(
            name="textrnn",
            title="TextRNN",
            description="A recurrent text classifier: word embeddings, a bidirectional LSTM or GRU over the real "
            "tokens only (packed sequences), pooling of its states (final states, max, or attention as in "
            "TextRNN_Att), dropout and a linear classification head.",
            config_class=TextRNNConfig,
            base_model_class=TextRNNModel,
            classifier_class=TextRNNForSequenceClassification,
            build=build_word_level,
            max_seq_length=512,
            # peft adapts embeddings and linear layers, not nn.LSTM / nn.GRU: those stay frozen under LoRA.
            lora_targets=("embed_tokens",),
            # Chosen on validation (bench/notes.md, "fastText and TextRNN defaults"): movie-snippets 0.786 at
            # batch 256, lr 3e-3 vs 0.782 at batch 64, lr 1e-3.
            training_defaults=dict(learning_rate=3e-3, num_train_epochs=5, per_device_train_batch_size=256),
            vector_training_defaults=WORD_VECTOR_TRAINING_DEFAULTS,
            config_flags=("dropout", "cell", "num_layers", "hidden_size", "pooling"),
        ),
        Family(
            name="llama",
            title="Llama sequence classifier",
            description="A Llama-architecture decoder used as a sequence classifier: the hidden state of the last "
            "real (non-padding) token, found from the attention mask, is fed to a bias-free linear "
            "head (`score`).",
            config_class=TextclsLlamaConfig,
            base_model_class=TextclsLlamaModel,
            classifier_class=LlamaForSequenceClassification,
            build=build_pretrained,
            max_seq_length=128,
            lora_targets=("q_proj", "v_proj"),
            training_defaults=dict(
                learning_rate=2e-5, num_train_epochs=1, per_device_train_batch_size=16, per_device_eval_batch_size=64
            ),
            # LoRA moves few weights: it wants a larger step than full fine-tuning.
            lora_training_defaults=dict(learning_rate=1e-4),
            builtin_checkpoints={"smollm2-135m": resources.smollm2_checkpoint},
            default_checkpoint="smollm2-135m",
        ),
    )
}


def get_family(name: str) -> Family:
    """The family for a command-line name or a config's `model_type` (a saved checkpoint's)."""
    if name in FAMILIES:
        return FAMILIES[name]
    for family in FAMILIES.values():
        if family.model_type == name:
            return family
    raise TextclsError(f"Unknown --model_type {name!r}; choose one of {', '.join(FAMILIES)}.")


def register_auto_classes() -> None:
    for family in FAMILIES.values():
        AutoConfig.register(family.model_type, family.config_class, exist_ok=True)
        AutoModel.register(family.config_class, family.base_model_class, exist_ok=True)
        AutoModelForSequenceClassification.register(family.config_class, family.classifier_class, exist_ok=True)
        # Saved checkpoints carry the code and an `auto_map` for users without textcls.
        family.config_class.register_for_auto_class("AutoConfig")
        family.base_model_class.register_for_auto_class("AutoModel")
        family.classifier_class.register_for_auto_class("AutoModelForSequenceClassification")


register_auto_classes()
