"""The family registry: everything textcls knows about a model family, in one entry each.

The recipe (training.py), the command line, the model card, the benchmarks and the test fixtures
ask this registry; none of them branches on a family's name. Adding a family = one modeling file
in models/ + one `Family` entry in `FAMILIES` below.

A family builds its tokenizer and model in one of three ways, named by `Family.build`:
  - `build_word_level`: a word tokenizer trained on the training split, a new model sized to it,
    optionally initialised with pretrained word vectors (TextCNN, DPCNN);
  - `build_pretrained`: a checkpoint's own tokenizer and weights (Llama), a new head for the labels;
  - `build_auto`: any checkpoint transformers has a sequence-classification class for (BERT,
    RoBERTa, DeBERTa, ModernBERT, ...), with transformers' own classes (the `auto` family).
Importing this module registers every family's classes with the transformers Auto classes (the
`auto` family has none of its own).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from peft.utils import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING
from transformers import (
    MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING,
    AutoConfig,
    AutoModel,
    AutoModelForSequenceClassification,
    AutoTokenizer,
)

from . import resources
from .checkpoints import check_checkpoint_labels, checkpoint_errors
from .embeddings import build_embedding_matrix
from .errors import CheckpointError, TextclsError
from .models import (
    DPCNNConfig,
    DPCNNForSequenceClassification,
    DPCNNModel,
    FastTextConfig,
    FastTextForSequenceClassification,
    FastTextModel,
    LlamaForSequenceClassification,
    TextclsLlamaConfig,
    TextclsLlamaModel,
    TextCNNConfig,
    TextCNNForSequenceClassification,
    TextCNNModel,
    TextRNNConfig,
    TextRNNForSequenceClassification,
    TextRNNModel,
)
from .precision import from_pretrained_kwargs
from .prompt_suffix import set_prompt_suffix
from .tokenization import train_word_tokenizer

if TYPE_CHECKING:
    from .data import TextClassificationData

logger = logging.getLogger(__name__)

# Word vectors used when an embedding mode other than "rand" is asked for without naming any:
# Kim's static / non-static / multichannel modes are about pretrained vectors.
DEFAULT_WORD_VECTORS = "glove-6b-50d"


# ----------------------------------------------------------------------------------------------
# Hyperparameter search spaces (`textcls tune`, textcls.tuning): a flag name -> its range.


@dataclass(frozen=True)
class LogUniform:
    low: float
    high: float


@dataclass(frozen=True)
class Uniform:
    low: float
    high: float


@dataclass(frozen=True)
class IntRange:
    low: int
    high: int


@dataclass(frozen=True)
class Choice:
    options: tuple


# Every classification family may weigh its loss (textcls.class_weights).
CLASS_WEIGHT_CHOICE = Choice(("none", "sqrt_balanced", "balanced"))


@dataclass(frozen=True)
class Family:
    """One model family: its classes, how it is built, and the recipe defaults that train it well."""

    name: str  # --model_type on the command line
    title: str  # model card heading
    description: str  # model card text: what the architecture is
    # The family's own classes; None for `auto`, which uses whatever transformers class fits a checkpoint.
    config_class: type | None
    base_model_class: type | None
    classifier_class: type | None
    build: Callable  # build_word_level, build_pretrained or build_auto: (family, model_args, data, max_seq_length) -> (tokenizer, model)
    max_seq_length: int  # default --max_seq_length
    # Default --lora_target_modules (several names, or one regex); empty: chosen per architecture.
    lora_targets: tuple[str, ...]
    # Flag defaults (Trainer's or ours) over COMMON_TRAINING_DEFAULTS (arguments.py); any flag on the command line wins.
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
    # The classification head's module name; one of the two that peft's SEQ_CLS task trains and saves.
    head: str = "classifier"
    # `textcls tune`: flag name -> range (LogUniform, Uniform, IntRange, Choice); any flag given on the
    # command line is held fixed. None: learning rate and epochs around training_defaults (textcls.tuning).
    search_space: dict | None = None
    lora_search_space: dict = field(default_factory=dict)  # over search_space with --use_lora

    @property
    def model_type(self) -> str | None:
        """The config's `model_type` (what a saved checkpoint says), not always the command-line name."""
        return self.config_class.model_type if self.config_class is not None else None

    @property
    def word_level(self) -> bool:
        """A tokenizer trained on the data and word vectors (embedding modes) apply to this family."""
        return self.build is build_word_level

    @property
    def pretrained(self) -> bool:
        """Built from a pretrained checkpoint (`--model_name_or_path` names the base model)."""
        return not self.word_level

    @property
    def takes_prompt_suffix(self) -> bool:
        """A decoder pooling its last token (Llama): `--prompt_suffix` ends every input (textcls.prompt_suffix)."""
        return self.build is build_pretrained

    @property
    def reads_packed_batches(self) -> bool:
        """Pools each text of a padding-free row on its own (`--padding_free`; our Llama, models/modeling_textcls_llama.py)."""
        return self.build is build_pretrained

    def describes_backbone(self, model_type: str) -> bool:
        """Whether this family's classes load a checkpoint of that `model_type` (our Llama: any Llama)."""
        return model_type in getattr(self.config_class, "backbone_model_types", ())

    def default_lora_targets(self, model) -> list[str]:
        """--lora_target_modules when not given: the family's own, else those of the model's architecture."""
        if self.lora_targets:
            return list(self.lora_targets)
        model_type = model.config.model_type
        owner = next((f for f in FAMILIES.values() if f.model_type == model_type), None)
        targets = (
            owner.lora_targets
            if owner
            else AUTO_LORA_TARGETS.get(model_type) or TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING.get(model_type)
        )
        if not targets:
            raise TextclsError(
                f"No default LoRA targets for a {model_type!r} model: name its attention projections with "
                "--lora_target_modules (e.g. --lora_target_modules query value)."
            )
        return list(targets)

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
    config = checked_config(
        family,
        vocab_size=len(tokenizer),
        **({"embedding_dim": embedding_dim} if embedding_dim else {}),  # else the family's own default
        embedding_mode=model_args.embedding_mode,
        pad_token_id=tokenizer.pad_token_id,
        **config_flags(family, model_args),
        **label_kwargs(data),
    )
    if family.check_config is not None:
        family.check_config(config, max_seq_length)
    model = AutoModelForSequenceClassification.from_config(config)
    if vectors is not None:
        model.load_pretrained_embeddings(torch.from_numpy(vectors.weights))
    return tokenizer, model


def config_flags(family: Family, model_args) -> dict:
    """The family's config flags (`Family.config_flags`) given on the command line."""
    return {name: getattr(model_args, name) for name in family.config_flags if getattr(model_args, name) is not None}


def checked_config(family: Family, **settings):
    """The family's config with these settings; an invalid one is a one-line error."""
    try:
        return family.config_class(**settings)
    except ValueError as error:  # the config's own checks name the field, which is also the flag's name
        raise TextclsError(f"Invalid {family.name} settings: {str(error).strip().splitlines()[0]}") from error


def build_pretrained(family: Family, model_args, data: TextClassificationData, max_seq_length: int):
    """A pretrained checkpoint's tokenizer and weights, with a (new) head for the data's labels."""
    path = family.resolve_checkpoint(model_args.model_name_or_path)
    flags = config_flags(family, model_args)
    checked_config(family, **flags)  # a bad flag fails before any checkpoint is read
    with checkpoint_errors(path, model_args.gguf_file):
        check_checkpoint_labels(path, data.num_labels, model_args.ignore_mismatched_sizes)
        # Architecture first: a wrong checkpoint should fail before the (large) weights are read.
        family.config_class.get_config_dict(path, gguf_file=model_args.gguf_file)
        tokenizer = AutoTokenizer.from_pretrained(path, gguf_file=model_args.gguf_file)
        if tokenizer.pad_token is None:
            # Decoder tokenizers often have no pad token; pooling uses the attention mask, so eos is safe here.
            tokenizer.pad_token = tokenizer.eos_token
    if model_args.prompt_suffix is not None:  # before the (large) weights; a textcls checkpoint's own is replaced
        set_prompt_suffix(tokenizer, model_args.prompt_suffix, max_seq_length)
    with checkpoint_errors(path, model_args.gguf_file):
        model = family.classifier_class.from_pretrained(
            path,
            gguf_file=model_args.gguf_file,
            pad_token_id=tokenizer.pad_token_id,
            ignore_mismatched_sizes=model_args.ignore_mismatched_sizes,
            **flags,
            **from_pretrained_kwargs(model_args, family.head),  # dtype, attention kernel, 4/8-bit
            **label_kwargs(data),
        )
    return tokenizer, model


def build_auto(family: Family, model_args, data: TextClassificationData, max_seq_length: int):
    """Any transformers sequence classifier: the checkpoint's tokenizer and weights, a head for the data's labels.

    A checkpoint one of our pretrained families describes (a Llama) is built by that family: our Llama
    pools the last real token where transformers' does not (models/modeling_textcls_llama.py).
    """
    path = family.resolve_checkpoint(model_args.model_name_or_path)  # default: minilm-l6
    with checkpoint_errors(path, model_args.gguf_file):
        try:
            config = AutoConfig.from_pretrained(path, gguf_file=model_args.gguf_file)
        except ValueError as error:  # an unknown model_type, or one that needs remote code
            raise CheckpointError(f"Cannot read the config of {path}: {str(error).strip().splitlines()[0]}") from error
    owner = next((f for f in FAMILIES.values() if f.describes_backbone(config.model_type)), None)
    if owner is not None:
        logger.info("%s is a %s checkpoint: building it as the %s family", path, config.model_type, owner.name)
        return owner.build(owner, replace(model_args, model_name_or_path=path), data, max_seq_length)
    if type(config) not in MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING:
        raise CheckpointError(
            f"{path} is a {config.model_type!r} checkpoint and transformers has no sequence-classification class "
            "for it: pass a text encoder or decoder checkpoint (BERT, RoBERTa, DeBERTa, ModernBERT, Llama, ...)."
        )
    with checkpoint_errors(path, model_args.gguf_file):
        # Only a classifier has a head to fit: a base model's config may list labels it never used.
        if any(name.endswith("ForSequenceClassification") for name in config.architectures or ()):
            check_checkpoint_labels(path, data.num_labels, model_args.ignore_mismatched_sizes)
        tokenizer = AutoTokenizer.from_pretrained(path, gguf_file=model_args.gguf_file)
        if tokenizer.pad_token is None:  # decoders (GPT-2, ...): batches need a pad token
            if tokenizer.eos_token is None:
                raise CheckpointError(f"The tokenizer of {path} has neither a pad nor an eos token to pad batches with.")
            tokenizer.pad_token = tokenizer.eos_token
        pad = {} if config.pad_token_id is not None else {"pad_token_id": tokenizer.pad_token_id}
        model = AutoModelForSequenceClassification.from_pretrained(
            path,
            gguf_file=model_args.gguf_file,
            ignore_mismatched_sizes=model_args.ignore_mismatched_sizes,
            dtype=torch.float32,
            **pad,
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

# LoRA targets of transformers architectures that peft has no default for; the others take peft's
# own (TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING: bert, roberta, deberta-v2, electra, ...).
AUTO_LORA_TARGETS = {
    "albert": ("query", "value"),
    "camembert": ("query", "value"),
    "distilbert": ("q_lin", "v_lin"),
    "modernbert": ("Wqkv",),
    "mpnet": ("q", "v"),
}

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
            search_space=dict(
                learning_rate=LogUniform(3e-4, 3e-2),
                num_train_epochs=IntRange(3, 12),
                dropout=Uniform(0.2, 0.7),
                num_filters=Choice((50, 100, 200)),
                embedding_mode=Choice(("rand", "static", "non-static", "multichannel")),
                class_weight=CLASS_WEIGHT_CHOICE,
            ),
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
            # bench/RESULTS.md: DPCNN on reuters-r8 wanted lr 3e-3 and 10 epochs.
            search_space=dict(
                learning_rate=LogUniform(3e-4, 1e-2),
                num_train_epochs=IntRange(3, 12),
                dropout=Uniform(0.0, 0.6),
                num_filters=Choice((100, 250)),
                embedding_mode=Choice(("rand", "static", "non-static", "multichannel")),
                class_weight=CLASS_WEIGHT_CHOICE,
            ),
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
            # Chosen on validation (bench/notes.md, "fastText and TextRNN defaults"): the best mean validation
            # accuracy over the three builtin corpora among lr 2e-2 / 3e-2 / 5e-2 and batch 64 / 128 / 256 within the
            # training-time target; the 2**16-bucket n-gram table (the config default) because AdamW updates the
            # whole table every step. No gradient clipping, as in fastText: the gradient norm stays near 0.02, so the
            # 1.0 clip never acts and its two passes over the table cost ~10% of a step.
            training_defaults=dict(learning_rate=2e-2, num_train_epochs=5, per_device_train_batch_size=128,
                                   max_grad_norm=0.0),
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
            # The recurrence is sequential in the length: 256 tokens keep a reuters-r8 run to minutes (the
            # median document has 83 words), where 512 took over 5 minutes an epoch on one core.
            max_seq_length=256,
            # peft adapts embeddings and linear layers, not nn.LSTM / nn.GRU: those stay frozen under LoRA.
            lora_targets=("embed_tokens",),
            # Chosen on validation (bench/notes.md, "fastText and TextRNN defaults"): batch 64 at lr 3e-3 gave
            # reuters-r8 0.934 where batch 256 was still at 0.752 after 2 of 5 epochs (too few steps on a
            # 5,000-document corpus), for 0.784 vs 0.786 on movie-snippets.
            training_defaults=dict(learning_rate=3e-3, num_train_epochs=5, per_device_train_batch_size=64),
            vector_training_defaults=WORD_VECTOR_TRAINING_DEFAULTS,
            config_flags=("dropout", "cell", "num_layers", "hidden_size", "pooling"),
        ),
        Family(
            name="llama",
            title="Llama sequence classifier",
            description="A Llama-architecture decoder used as a sequence classifier: the hidden state of the last "
            "real (non-padding) token, found from the attention mask (or with `--pooling mean` the mean of the "
            "real tokens' states), is fed to a bias-free linear head (`score`).",
            config_class=TextclsLlamaConfig,
            base_model_class=TextclsLlamaModel,
            classifier_class=LlamaForSequenceClassification,
            build=build_pretrained,
            # From the literature, then checked on validation (bench/notes.md, "Llama family"): on 2,000 movie
            # snippets these reach validation 0.896 (test 0.878) where 1 epoch of q/v adapters at lr 1e-4 reached
            # 0.680 (and nothing on the topic corpora); on 2,000 reuters-r8 documents test 0.972 (TF-IDF+LR 0.960);
            # on 2,000 20newsgroups posts 0.777 (validation 0.852), short of TF-IDF+LR's 0.785 (no one change
            # tried since has closed it: rates, rank, warm-up, epochs, pooling, windows; bench/notes.md).
            # Topic documents run to hundreds of tokens; 128 cut most short.
            max_seq_length=256,
            # Every linear projection of attention and MLP (QLoRA, Dettmers et al. 2023: LoRA on all linear
            # layers matches full fine-tuning; on q/v only it does not).
            lora_targets=("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
            # 3 epochs (BERT's recommended 2-4, Devlin et al. 2019) with 6% linear warm-up (RoBERTa's GLUE recipe).
            training_defaults=dict(
                learning_rate=2e-5,
                num_train_epochs=3,
                warmup_steps=0.06,  # a float below 1 is a ratio of the total steps
                per_device_train_batch_size=16,
                per_device_eval_batch_size=64,
            ),
            # LoRA moves few weights: a larger step than full fine-tuning (8e-4 for SmolLM2-135M, four times QLoRA's
            # 2e-4 for 7B-13B models: ahead of 4e-4 on validation on every builtin corpus over three seeds, of 2e-4
            # and 1.6e-3 where measured; bench/notes.md "Session 50"),
            # rank 16 with alpha 2r, and a yet larger step for the new, randomly initialised head. No dropout on
            # the adapters' input (peft's own default): on the CPU drawing and applying its masks cost a third of
            # a training step (speed (h) in bench/RESULTS.md). Long documents in overlapping windows, as every window trains and
            # the windows' logits are averaged (textcls.long_text): the text past 256 tokens is what 20newsgroups
            # lacked (bench/notes.md, "Llama family").
            lora_training_defaults=dict(
                learning_rate=8e-4, head_learning_rate=1e-3, lora_r=16, lora_alpha=32, lora_dropout=0.0, long_text="chunk"
            ),
            search_space=dict(
                learning_rate=LogUniform(1e-5, 1e-4), num_train_epochs=IntRange(1, 3), class_weight=CLASS_WEIGHT_CHOICE
            ),
            lora_search_space=dict(
                learning_rate=LogUniform(3e-5, 1e-3), lora_r=Choice((4, 8, 16)), lora_dropout=Uniform(0.0, 0.1)
            ),
            builtin_checkpoints={"smollm2-135m": resources.smollm2_checkpoint},
            default_checkpoint="smollm2-135m",
            head="score",
            config_flags=("pooling",),
        ),
        Family(
            name="auto",
            title="transformers sequence classifier",
            description="Any checkpoint transformers has a sequence-classification class for, fine-tuned "
            "with that class and the checkpoint's own tokenizer.",
            config_class=None,
            base_model_class=None,
            classifier_class=None,
            build=build_auto,
            # Movie snippets are at most 79 MiniLM tokens; topic documents are long (reuters-r8 median 83,
            # 27% over 128): 256 gave reuters-r8 validation .971 (bench/notes.md, "minilm-l6").
            max_seq_length=256,
            lora_targets=(),
            # all-MiniLM-L6-v2, chosen on validation (bench/notes.md, "minilm-l6"): 5 epochs rather than 3
            # gave reuters-r8 .978 (was .960) and movie-snippets .870 (was .860); a float below 1 as
            # warmup_steps is a ratio.
            training_defaults=dict(
                learning_rate=1e-4,
                num_train_epochs=5,
                per_device_train_batch_size=32,
                warmup_steps=0.06,
                weight_decay=0.01,
            ),
            builtin_checkpoints={
                "minilm-l6": resources.minilm_checkpoint,
                "smollm2-135m": resources.smollm2_checkpoint,
            },
            default_checkpoint="minilm-l6",
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
        if family.config_class is None:  # `auto`: transformers' own classes
            continue
        AutoConfig.register(family.model_type, family.config_class, exist_ok=True)
        AutoModel.register(family.config_class, family.base_model_class, exist_ok=True)
        AutoModelForSequenceClassification.register(family.config_class, family.classifier_class, exist_ok=True)
        # Saved checkpoints carry the code and an `auto_map` for users without textcls.
        family.config_class.register_for_auto_class("AutoConfig")
        family.base_model_class.register_for_auto_class("AutoModel")
        family.classifier_class.register_for_auto_class("AutoModelForSequenceClassification")


register_auto_classes()
