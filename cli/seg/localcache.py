"""Sealed local caches: files under a workspace's ``.seg/cache/`` that only this user's seg,
running this very code, could have written.

A cache under the workspace tree is input an attacker controls: a pull request can commit
``.seg/cache/…`` (or make ``.seg`` a symlink). So a cache file is never trusted for what it
says about itself:

- every file carries an HMAC-SHA256 over its purpose, the code's fingerprint and its payload,
  keyed by a random key kept *outside* the tree (``$XDG_CACHE_HOME/seg/cache.key``, else
  ``~/.cache/seg/cache.key``, 0600). A file made anywhere else, by other code (another seg
  version, an edited checkout) or for another purpose fails the check and reads as absent;
- ``.seg`` and ``.seg/cache`` must be real directories (never followed through a symlink),
  files are opened with ``O_NOFOLLOW``, written to a fresh temporary file (0600) and renamed;
- anything unusable (no home to keep the key in, a read-only tree, a full disk) disables the
  cache for the run: a cache is an optimisation, never a reason to fail.

Callers serialise their payload themselves; after ``read`` verified the seal, the payload is
exactly the bytes this code wrote, so a ``pickle`` of it is as trusted as the code itself.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import pickle
import secrets
import stat
from pathlib import Path
from typing import Any

__all__ = ["CACHE_DIR", "MAX_CACHE_BYTES", "code_fingerprint", "derived_key", "mac", "read",
           "read_pickled", "usable_dir", "write"]  # fmt: skip

CACHE_DIR = (".seg", "cache")  # under the workspace root
MAGIC = b"seg-cache 1\n"
MAX_CACHE_BYTES = 2 << 30  # larger files are not read
KEY_BYTES = 32


def key_file() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or ""
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".cache"
    return root / "seg" / "cache.key"


@functools.cache
def _key() -> bytes | None:
    """This user's cache key, made on first use; None when it can be neither read nor made."""
    path = key_file()
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    except OSError:
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(KEY_BYTES))
        return _read_key(path)  # another process may have won the race: read what is there
    except FileExistsError:
        try:
            return _read_key(path)
        except OSError:
            return None
    except OSError:
        return None


def derived_key(purpose: str) -> bytes | None:
    """A key for ``purpose`` derived from this user's cache key (kept outside the tree), for
    keyed digests a cache may hold (of a value that must never be written there); None when
    there is no key (the cache is off)."""
    key = _key()
    return None if key is None else hmac.new(key, f"derived\0{purpose}".encode(), "sha256").digest()


def _read_key(path: Path) -> bytes | None:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_mode & 0o077 or info.st_uid != os.getuid():
            return None  # readable by others, or not ours: not a secret any more
        key = fh.read(KEY_BYTES + 1)
    return key if len(key) == KEY_BYTES else None


@functools.cache
def code_fingerprint() -> str:
    """A digest of the running code and its data: the version, and the path, size and
    modification time of every file of the ``seg`` package and its JSON Schemas. A cache
    written by other code never reads as valid, even when the version string is the same
    (an edited checkout)."""
    from seg.about import build_version

    package = Path(__file__).resolve().parent
    digest = hashlib.sha256(build_version().encode())
    # the package (with ``seg/schemas`` in a wheel) and, in a checkout, ``<repo>/schemas``
    for root in (package, package.parents[1] / "schemas"):
        if not root.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for name in sorted(filenames):
                if name.endswith((".pyc", ".pyo")):
                    continue
                path = os.path.join(dirpath, name)
                try:
                    info = os.stat(path)
                except OSError:
                    continue
                digest.update(f"{path}\0{info.st_size}\0{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def usable_dir(root: Path, *parts: str) -> Path | None:
    """``root/.seg/cache/<parts>``, made when missing, or None when any of it is not a real
    directory of this user (a symlink, a file) or cannot be made."""
    path = root
    for part in (*CACHE_DIR, *parts):
        path = path / part
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            try:
                os.mkdir(path, 0o700)
                if part == CACHE_DIR[-1]:  # keep the caches out of git (as .seg/.gitignore
                    _write_new(path / ".gitignore", b"*\n")  # keeps the embedded plane's)
            except OSError:
                return None
            info = os.lstat(path)
        except OSError:
            return None
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            return None
    return path


def _write_new(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _mac(key: bytes, purpose: str, payload: bytes) -> bytes:
    mac = hmac.new(key, digestmod=hashlib.sha256)
    mac.update(f"{purpose}\0{code_fingerprint()}\0".encode())
    mac.update(payload)
    return mac.digest()


def mac(purpose: str, data: bytes) -> bytes | None:
    """An HMAC of ``data`` under this user's cache key (None without one): what a cache keeps
    in place of a value it must not hold, such as a secret."""
    key = _key()
    return _mac(key, f"mac:{purpose}", data) if key is not None else None


def read(root: Path, purpose: str, *name: str) -> bytes | None:
    """The payload of the cache file ``.seg/cache/<name…>`` when its seal holds for
    ``purpose`` and this code; None otherwise (absent, forged, stale, unreadable)."""
    key = _key()
    folder = usable_dir(root, *name[:-1]) if key else None
    if key is None or folder is None:
        return None
    try:
        # O_NONBLOCK: a FIFO planted in its place must not block seg (it is refused below)
        fd = os.open(folder / name[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_CACHE_BYTES:
            return None
        blob = fh.read()
    head = len(MAGIC) + hashlib.sha256().digest_size
    if len(blob) < head or not blob.startswith(MAGIC):
        return None
    payload = memoryview(blob)[head:].tobytes()
    if not hmac.compare_digest(blob[len(MAGIC) : head], _mac(key, purpose, payload)):
        return None
    return payload


def read_pickled(root: Path, purpose: str, *name: str) -> Any:
    """``read``'s payload unpickled (None when absent or unusable). Only a verified seal gets
    here, so the bytes are this code's own; a payload that still fails to load (a bug) reads
    as absent and the cache is rebuilt."""
    payload = read(root, purpose, *name)
    if payload is None:
        return None
    try:
        return pickle.loads(payload)
    except Exception:
        return None


def write(root: Path, purpose: str, payload: bytes, *name: str) -> bool:
    """Seal ``payload`` into ``.seg/cache/<name…>`` (atomically, 0600); False when the cache
    is unusable here (the caller goes on without it)."""
    key = _key()
    folder = usable_dir(root, *name[:-1]) if key else None
    if key is None or folder is None or len(payload) > MAX_CACHE_BYTES:
        return False
    target = folder / name[-1]
    temp = folder / f".{name[-1]}.{secrets.token_hex(8)}.tmp"
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(MAGIC)
            fh.write(_mac(key, purpose, payload))
            fh.write(payload)
        os.replace(temp, target)  # replaces a symlink itself, never what it points to
    except OSError:
        try:
            os.unlink(temp)
        except OSError:
            pass
        return False
    return True
