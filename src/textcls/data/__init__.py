"""Datasets for text classification: builtin corpora, local files, save_to_disk folders, the Hub.

Modules, lowest first: `columns` (a column as Arrow), `splits` (seeded splits), `builtin` (the
builtin corpora), `sources` (a name or path -> raw splits; the file checks), `labels` (label space
and encoding), `text_columns` (joining text columns), `loading` (the orchestrator).
"""

from ..models.sequence_classification import MULTI_LABEL, REGRESSION, SINGLE_LABEL
from .builtin import (
    BUILTIN_DATASETS,
    DEFAULT_SPLIT_SEED,
    builtin_cache_path,
    load_builtin_dataset,
)
from .loading import (
    INPUT_EXTENSIONS,
    TextClassificationData,
    load_text_classification_data,
    load_texts,
)
from .sources import SUPPORTED_EXTENSIONS
from .splits import plain_split_indices, stratified_split_indices

__all__ = [
    "BUILTIN_DATASETS",
    "DEFAULT_SPLIT_SEED",
    "INPUT_EXTENSIONS",
    "MULTI_LABEL",
    "REGRESSION",
    "SINGLE_LABEL",
    "SUPPORTED_EXTENSIONS",
    "TextClassificationData",
    "builtin_cache_path",
    "load_builtin_dataset",
    "load_text_classification_data",
    "load_texts",
    "plain_split_indices",
    "stratified_split_indices",
]
