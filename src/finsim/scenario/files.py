"""Paths of scenario files: what is wrong with one before it is opened, reading its bytes
within the size limit, and which files are workbooks (``.xlsx``, read by
:mod:`finsim.workbook`) rather than YAML."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from finsim.errors import ScenarioError
from finsim.scenario.limits import limit
from finsim.scenario.values import _UNFIT

#: The suffixes of scenario workbooks (any other file is read as YAML).
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")

NUL_IN_PATH = "the path holds a NUL character (\\x00), which no path can"


def file_problem(path: Path) -> str | None:
    """What stops ``path`` being read as a scenario file, from ``os.stat`` alone (nothing is
    opened): missing, a path too long for the system, a loop of symbolic links, a folder that
    may not be entered, or not a regular file (a folder, a device, a named pipe); None if none.
    """
    try:
        mode = os.stat(path).st_mode
    except ValueError:  # (Python refuses a path holding a NUL before asking the system)
        return NUL_IN_PATH
    except OSError as exc:
        return os_problem(exc)
    if stat.S_ISREG(mode):
        return None
    return f"expected a scenario file, got {_file_kind(mode)}"


def os_problem(exc: OSError) -> str:
    """An error of the system about a path, in words."""
    reasons = {
        errno.ENOENT: "file not found",
        errno.ENAMETOOLONG: "the path, or a part of it, is longer than this system allows",
        errno.ELOOP: "the path goes round a loop of symbolic links",
        errno.EACCES: "permission denied (a folder on the path cannot be entered, or the file "
        "cannot be read)",
        errno.EPERM: "permission denied",
        errno.ENOTDIR: "a part of the path is a file, not a folder",
    }
    return reasons.get(exc.errno or 0) or str(exc.strerror or exc)


def _file_kind(mode: int) -> str:
    for test, kind in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISCHR, "a device"),
        (stat.S_ISBLK, "a device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return kind
    return "something that is not a regular file"


def read_bytes(path: Path) -> bytes:
    """The bytes of a scenario file, checked to be a regular file within the size limit before
    (and while) it is read. Raises ScenarioError naming the file."""
    name = shown_path(path)
    problem = file_problem(path)
    if problem is not None:
        raise ScenarioError.single("(file)", problem, name)
    # not blocking: should the path turn into a named pipe after the check, opening it does
    # not wait for a writer, and it is refused below
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise ScenarioError.single("(file)", os_problem(exc), name) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ScenarioError.single(
                "(file)", f"expected a scenario file, got {_file_kind(info.st_mode)}", name
            )
        _check_size(info.st_size, name)
        most = limit("MAX_FILE_BYTES")
        parts: list[bytes] = []
        size = 0
        while True:  # no further than the limit, should the file grow while it is read
            part = os.read(fd, min(1 << 20, most + 1 - size))
            if not part:
                break
            parts.append(part)
            size += len(part)
            if size > most:
                _check_size(size, name)
    except OSError as exc:
        raise ScenarioError.single("(file)", os_problem(exc), name) from None
    finally:
        os.close(fd)
    return b"".join(parts)


def shown_path(path: Path | str, most: int = 1000) -> str:
    """``path`` as text for a message: in full, or its start and end if it is very long; a
    control character in it is shown as its escape, never sent to the terminal."""
    text = _UNFIT.sub(lambda found: ascii(found.group())[1:-1], str(path))  # ("\\x00", not NUL)
    if len(text) <= most:
        return text
    return f"{text[: most // 2]}...{text[-most // 2 :]} ({len(text):,} characters)"


def _check_size(size: int, name: str) -> None:
    most = limit("MAX_FILE_BYTES")
    if size > most:
        raise ScenarioError.single(
            "(file)",
            f"file is {size:,} bytes; the limit is {most:,} (FINSIM_MAX_FILE_BYTES)",
            name,
        )


def is_workbook(path: Path | str) -> bool:
    """Whether ``path`` names a scenario workbook (by its suffix), not a YAML file."""
    return Path(path).suffix.lower() in WORKBOOK_SUFFIXES
