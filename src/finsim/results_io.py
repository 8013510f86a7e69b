"""Writing result files safely: a table as CSV or Parquet, and any file written whole
(:func:`atomic_write`) and only over a new path or a regular file
(:func:`check_output_path`).
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd


def _write_frame(frame: pd.DataFrame, path: Path, fmt: str) -> None:
    if fmt == "csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _kind(mode: int) -> str:
    """What a file that is not a regular file is, in words."""
    for test, words in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return words
    return "not a regular file"


def check_output_path(path: str | Path) -> Path:
    """``path`` if a file may be written there: a new path, or an existing regular file
    (or a link to one), which the write replaces whole.

    Anything else (a folder, a device such as ``/dev/null``, a named pipe, a socket) is
    refused with a :class:`FileExistsError` naming the path and what it is, before anything
    is written: finsim replaces files, never what is not one.
    """
    target = Path(path)
    try:
        mode = os.stat(target).st_mode  # follows a link: a link to a device is a device
    except FileNotFoundError:
        return target  # a new path (or a link to nothing yet)
    if not stat.S_ISREG(mode):
        raise FileExistsError(
            errno.EEXIST,
            f"exists and is {_kind(mode)}; finsim writes only to a new path or over a regular file",
            str(target),
        )
    return target


def atomic_write(path: Path, write: Any) -> None:
    """Write ``path`` by writing a temporary file beside it, then renaming it into place.

    A reader never sees a half-written file; an interrupted write leaves none behind. Only a
    new path or a regular file is written (see :func:`check_output_path`): a device, a
    folder or a named pipe at ``path`` is refused, never replaced.
    """
    check_output_path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; results are for sharing
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
