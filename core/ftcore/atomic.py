"""Write-then-rename, so that a crash or a full disk never leaves half a file under the final name."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8", permissions: int | None = None
) -> Iterator[IO]:
    """Open a temporary file beside `path`; on success fsync and rename it over `path`.

    Usage:
        with atomic_write("out.jsonl") as f:
            f.write("{}\\n")

    On any exception the temporary file is removed and `path` keeps its previous content.
    `permissions` (e.g. 0o600 for credentials) applies from the first byte written.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    binary = "b" in mode
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    # mkstemp makes the file 0600; the result should get the mode any new file gets here (umask),
    # or keep the mode of the file it replaces (a 0600 credentials file stays 0600).
    if permissions is None:
        try:
            permissions = target.stat().st_mode & 0o777
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            permissions = 0o666 & ~umask
    os.chmod(tmp_name, permissions)
    try:
        with os.fdopen(fd, mode, encoding=None if binary else encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        if isinstance(error, OSError) and error.filename is None:
            error.filename = str(target)  # os.write and fsync name no file: ENOSPC should say which
        raise
    # The rename itself must survive a power cut too.
    with contextlib.suppress(OSError):
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def sha256_file(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def describe_os_error(error: OSError) -> str:
    """`path: reason` in one line, e.g. "exports/v1/train.jsonl: No space left on device (the disk is full)"."""
    reason = " ".join(str(error.strerror or error).split()) or type(error).__name__
    if error.errno == errno.ENOSPC:
        reason += " (the disk is full)"
    return f"{error.filename}: {reason}" if error.filename else reason
