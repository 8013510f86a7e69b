"""Checks of the command line's options: output paths, the Dask scheduler's address, whole
numbers and dots per inch. A bad option is one message naming it (exit status 2).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from finsim.errors import ScenarioError

EXIT_USER_ERROR = 2
#: A Dask scheduler's address: ``tcp://host:port`` (or tls, ws, wss, ucx; the scheme may be
#: left out), the host a name, an IPv4 address or an IPv6 address in brackets.
SCHEDULER_ADDRESS = re.compile(
    r"^(?:(?P<scheme>[a-z]+)://)?(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(?P<port>\d{1,5})$"
)
SCHEDULER_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")
#: Seconds to wait for a Dask scheduler to answer before saying it cannot be reached.
SCHEDULER_TIMEOUT = 10
#: ``finsim chart --dpi`` bounds: below, a picture no one can read; above, one that takes
#: gigabytes to draw.
DPI_RANGE = (10, 1200)


def _option_error(option: str, message: str) -> ScenarioError:
    return ScenarioError.single(option, message, "(options)")


def _output_file(option: str, path: str | Path) -> Path:
    """``path`` checked before anything runs: a new path or a regular file (which is
    replaced), never a folder, a device such as /dev/null or a named pipe."""
    from finsim.results import check_output_path
    from finsim.scenario.yamlio import NUL_IN_PATH, shown_path

    try:
        return check_output_path(path)
    except OSError as exc:
        raise _option_error(option, f"'{shown_path(path)}' {exc.strerror}") from None
    except ValueError:
        raise _option_error(option, f"'{shown_path(path)}': {NUL_IN_PATH}") from None


def _excel_file(option: str, path: str | Path) -> Path:
    """An Excel workbook's path checked before anything runs: a name ending in .xlsx, a new
    path or a regular file, and openpyxl (the 'excel' extra) installed to write it."""
    from finsim.scenario.yamlio import shown_path

    if Path(path).suffix.lower() != ".xlsx":
        raise _option_error(
            option, f"'{shown_path(path)}': an Excel workbook's name should end in .xlsx"
        )
    checked = _output_file(option, path)
    try:
        import openpyxl  # noqa: F401
    except ImportError:
        raise _option_error(
            option, "writing an Excel workbook needs the 'excel' extra: pip install 'finsim[excel]'"
        ) from None
    return checked


def _output_folder(option: str, path: str | Path) -> Path:
    """``path`` checked before anything runs: a folder, or a new path to make one at."""
    from finsim.scenario.yamlio import NUL_IN_PATH, os_problem, shown_path

    folder = Path(path)
    try:
        clash = folder.exists() and not folder.is_dir()
    except OSError as exc:
        raise _option_error(option, f"'{shown_path(folder)}': {os_problem(exc)}") from None
    except ValueError:
        raise _option_error(option, f"'{shown_path(folder)}': {NUL_IN_PATH}") from None
    if clash:
        raise _option_error(option, f"'{shown_path(folder)}' exists and is not a folder")
    return folder


def _scheduler(args: argparse.Namespace) -> Any:
    """A client of the Dask scheduler at ``--scheduler`` (None without one), its address
    checked and the scheduler reached before the run starts."""
    address = args.scheduler
    if address is None:
        return None
    if args.backend != "dask":
        raise _option_error(
            "--scheduler",
            f"a Dask scheduler runs the chunks of --backend dask, not --backend {args.backend}: "
            "leave out --backend (or give --backend dask) to use it",
        )
    match = SCHEDULER_ADDRESS.match(address)
    if (
        match is None
        or (match["scheme"] is not None and match["scheme"] not in SCHEDULER_SCHEMES)
        or not 1 <= int(match["port"]) <= 65535
    ):
        raise _option_error(
            "--scheduler",
            f"expected the address of a Dask scheduler, such as tcp://10.0.0.5:8786 "
            f"(scheme {', '.join(SCHEDULER_SCHEMES)}; port 1 to 65535), got {address!r}",
        )
    try:
        from distributed import Client
    except ImportError:
        raise _option_error(
            "--backend", "the dask backend needs the 'dask' extra: pip install 'finsim[dask]'"
        ) from None
    try:
        return Client(address, timeout=SCHEDULER_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        raise _option_error(
            "--scheduler",
            f"cannot reach a Dask scheduler at {address} within {SCHEDULER_TIMEOUT} s "
            f"({exc}): is it running, and is the address right?",
        ) from None


def _lost_scheduler(address: str, exc: BaseException) -> ScenarioError:
    return _option_error(
        "--scheduler",
        f"lost the Dask scheduler at {address} during the run ({exc}); run again once it is "
        "back (with --out DIR, finished chunks are kept and --resume runs only the rest)",
    )


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def _positive_int(text: str) -> int:
    value = _whole(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {value}")
    return value


def _dpi(text: str) -> int:
    low, high = DPI_RANGE
    value = _whole(text)
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(
            f"expected dots per inch from {low} to {high:,} (120 draws a screen's chart, 300 "
            f"a printed one), got {value:,}"
        )
    return value


def _non_negative_int(text: str) -> int:
    value = _whole(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {value}")
    return value


def _keep_tables(args: argparse.Namespace) -> bool | None:
    """``--keep-tables`` as given, or kept for ``--report`` when the run keeps its flows: the
    report's bridges from plan to outturn measure their drivers from the mechanisms' tables
    (kept by default only up to 200 replications) and the flows (up to 1,000)."""
    from finsim.runner import FLOWS_MAX_REPLICATIONS

    if args.keep_tables is None and args.report and args.replications <= FLOWS_MAX_REPLICATIONS:
        return True
    return args.keep_tables
