"""Files on disk: durable writes, the one manifest that is swapped atomically, the write lock.

Layout of an index directory::

    manifest.json          the current commit: generation, schema, analyzer, segments and their files
    write.lock             held (flock) by the one writer
    <segment>.<part>       immutable segment files, named in the manifest with size and CRC-32
    <segment>.del<gen>.npy a segment's deleted-docs bitmap as of commit <gen> (a new file per change)
    words<gen>.json        the distinct word -> terms cache as of commit <gen>

A commit writes new files, fsyncs them, writes ``manifest.json.tmp``, fsyncs it, renames it over
``manifest.json`` and fsyncs the directory. A crash at any moment leaves the previous manifest (and every
file it names) in place; files no manifest names are removed by the next writer.
"""

from __future__ import annotations

import errno
import json
import os
import re
import socket
import time
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Self

__all__ = [
    "FILE_NAME_RE",
    "MANIFEST",
    "DurableFile",
    "IndexCorruptError",
    "IndexError_",
    "IndexFormatError",
    "LockError",
    "WriteLock",
    "atomic_write_bytes",
    "crc32_file",
    "fsync_dir",
    "read_manifest",
    "write_durable",
]

MANIFEST = "manifest.json"
LOCK = "write.lock"
FORMAT = "idsearch-index-1"
FILE_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,120}$")


class IndexError_(Exception):
    """Base of idsearch's index errors."""


class IndexCorruptError(IndexError_):
    """An index file is missing, truncated, of the wrong type, or the manifest is not valid."""


class IndexFormatError(IndexError_):
    """The index uses features this version of idsearch does not have: a newer version wrote it."""


class LockError(IndexError_):
    """Another writer holds the index's write lock."""


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _naming(path: Path, exc: OSError) -> OSError:
    """``exc`` naming the file it concerns: a failed write of an open file (a full disk) says no name."""
    if exc.filename is not None:
        return exc
    named = type(exc)(exc.errno, exc.strerror or str(exc), os.fspath(path))
    named.__cause__ = exc
    return named


def write_durable(path: Path, data: bytes) -> list[int]:
    """Write a new file and fsync it (the caller fsyncs the directory once for a batch); returns
    ``[size, crc32]``, as a manifest lists a file."""
    with DurableFile(path) as out:
        out.write(data)
        return out.close()


class DurableFile:
    """A new file written piece by piece (a merge streams its segment's files): its size and CRC-32 are
    counted as it goes; ``close`` fsyncs it (the caller fsyncs the directory once for a batch)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh = open(path, "xb")  # noqa: SIM115 - closed by close()
        self.size = 0
        self.crc = 0

    def write(self, data: Any) -> None:
        """Append bytes, or any contiguous buffer (a numpy array: its bytes as they are in memory)."""
        view = memoryview(data).cast("B")
        try:
            self._fh.write(view)
        except OSError as exc:
            raise _naming(self.path, exc) from exc
        self.size += len(view)
        self.crc = zlib.crc32(view, self.crc)

    def close(self) -> list[int]:
        """Flush, fsync and close; returns ``[size, crc32]``, as a manifest lists a file."""
        try:
            self._fh.flush()
            os.fsync(self._fh.fileno())
        except OSError as exc:
            raise _naming(self.path, exc) from exc
        finally:
            self._fh.close()
        return [self.size, self.crc]

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self._fh.close()  # (on an error: the file is the writer's to remove)


def atomic_write_bytes(path: Path, data: bytes, *, replaced: Callable[[], None] | None = None) -> None:
    """Replace ``path`` atomically: temp file, fsync, rename, fsync the directory. ``replaced`` is called
    right after the rename: from then on the new content is the file, whatever fails afterwards."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:  # (not new: a crash may have left one)
        try:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        except OSError as exc:
            raise _naming(tmp, exc) from exc
    os.replace(tmp, path)
    if replaced is not None:
        replaced()
    fsync_dir(path.parent)


def crc32_file(path: Path) -> int:
    crc = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            crc = zlib.crc32(chunk, crc)
    return crc


def check_file_name(name: Any, where: str) -> str:
    """A file name from a manifest: a plain name inside the index directory, never a path."""
    if not isinstance(name, str) or not FILE_NAME_RE.match(name) or ".." in name:
        raise IndexCorruptError(f"{where}: bad file name {name!r} (must be a plain file name in the index)")
    return name


def read_manifest(directory: Path) -> dict[str, Any]:
    path = directory / MANIFEST
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise IndexCorruptError(f"{directory}: not an idsearch index (no {MANIFEST})") from None
    except OSError as exc:
        raise IndexCorruptError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise IndexCorruptError(f"{path}: not valid JSON ({exc})") from None
    except RecursionError:
        raise IndexCorruptError(f"{path}: not a manifest (nested too deeply)") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise IndexCorruptError(f"{path}: not an idsearch manifest (format must be {FORMAT!r})")
    generation = data.get("generation")
    if not isinstance(generation, int) or isinstance(generation, bool) or generation < 0:
        raise IndexCorruptError(f"{path}: 'generation' must be a non-negative integer")
    if not isinstance(data.get("segments"), list):
        raise IndexCorruptError(f"{path}: 'segments' must be a list")
    return data


def encode_manifest(data: Mapping[str, Any]) -> bytes:
    return json.dumps({"format": FORMAT, **data}, ensure_ascii=False, indent=1).encode("utf-8")


class WriteLock:
    """The single-writer lock: an ``flock`` on ``write.lock``.

    The kernel releases it when the holding process dies, so a lock left by a killed writer is never
    stale; the file records who holds it, for the error message."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / LOCK
        self._fd: int | None = None

    def acquire(self) -> None:
        import fcntl

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                holder = self._holder()
                raise LockError(
                    f"{self.path.parent}: another writer holds the write lock ({holder}); "
                    "only one writer at a time - close it or wait for it to finish"
                ) from None
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"pid={os.getpid()} host={socket.gethostname()} since={time.strftime('%Y-%m-%dT%H:%M:%S')}\n".encode())
        self._fd = fd

    def _holder(self) -> str:
        try:
            return self.path.read_text(encoding="utf-8", errors="replace").strip() or "unknown holder"
        except OSError:
            return "unknown holder"

    def release(self) -> None:
        if self._fd is not None:
            import fcntl

            try:
                os.ftruncate(self._fd, 0)
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
                os.close(self._fd)
                self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None
