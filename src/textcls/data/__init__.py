"""Datasets for text classification: builtin corpora, local files, save_to_disk folders, the Hub."""

from .builtin import BUILTIN_DATASETS, DEFAULT_SPLIT_SEED, builtin_cache_path, load_builtin_dataset
from .loading import (
    MULTI_LABEL,
    REGRESSION,
    SINGLE_LABEL,
    SUPPORTED_EXTENSIONS,
    TextClassificationData,
    load_text_classification_data,
    plain_split_indices,
    stratified_split_indices,
)

__all__ = [
    "BUILTIN_DATASETS",
    "DEFAULT_SPLIT_SEED",
    "MULTI_LABEL",
    "REGRESSION",
    "SINGLE_LABEL",
    "SUPPORTED_EXTENSIONS",
    "TextClassificationData",
    "builtin_cache_path",
    "load_builtin_dataset",
    "load_text_classification_data",
    "plain_split_indices",
    "stratified_split_indices",
]
