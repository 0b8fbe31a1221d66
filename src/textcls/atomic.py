"""Atomic writes: a file or folder appears complete at its final path, or not at all.

Each helper yields a temporary sibling of the target and renames it into place on success, so a
reader (another rank, a later run, a user) never sees a half-written file, and an interrupted
write leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from pathlib import Path
from typing import Iterator

__all__ = ["atomic_dir", "atomic_file"]


def _tmp_sibling(final: Path) -> Path:
    # Same directory as the target so that os.replace is a rename on one filesystem.
    return final.parent / f".{final.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"


@contextlib.contextmanager
def atomic_file(final: Path | str) -> Iterator[Path]:
    """Yield a temporary path; on success rename it to `final`, on any error delete it."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_sibling(final)
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


@contextlib.contextmanager
def atomic_dir(final: Path | str) -> Iterator[Path]:
    """Yield a fresh temporary directory; on success rename it to `final`, on error delete it.

    If another process finished `final` first, ours is discarded: both hold the same content.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_sibling(final)
    tmp.mkdir()
    try:
        yield tmp
        try:
            os.replace(tmp, final)
        except OSError:
            # A non-empty `final` appeared meanwhile (a concurrent rank won the race).
            if not final.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
