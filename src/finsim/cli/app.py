"""``finsim app``: serve the interactive explorer (:mod:`finsim.app`) with Streamlit.

The explorer needs the optional ``app`` extra; without it, ``finsim app`` says how to
install it and exits with status 2. It listens on this computer only (127.0.0.1) unless
``--address`` says otherwise, and sends Streamlit no usage statistics.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from finsim.cli.options import EXIT_USER_ERROR

APP_EXTRA = "finsim app needs the 'app' extra (Streamlit): pip install 'finsim[app]'"
#: The script Streamlit runs (finsim/app/streamlit_app.py, beside this package).
SCRIPT = Path(__file__).resolve().parents[1] / "app" / "streamlit_app.py"


def missing_extra() -> str | None:
    """What of the ``app`` extra is not installed (its message), or None."""
    for module in ("streamlit", "matplotlib", "openpyxl"):
        if importlib.util.find_spec(module) is None:
            return f"{APP_EXTRA} ({module} is not installed)"
    return None


def streamlit_command(args: argparse.Namespace) -> list[str]:
    """The ``streamlit run`` command that serves the explorer as ``args`` ask."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(SCRIPT),
        "--server.address",
        args.address,
        "--server.port",
        str(args.port),
        "--server.headless",
        "true" if args.no_browser else "false",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        "--client.toolbarMode",
        "minimal",
    ]


def _cmd_app(args: argparse.Namespace) -> int:
    missing = missing_extra()
    if missing is not None:
        print(f"finsim: {missing}", file=sys.stderr)
        return EXIT_USER_ERROR
    print(
        f"finsim app: serving the explorer at http://{args.address}:{args.port} "
        "(press Ctrl+C to stop)",
        file=sys.stderr,
        flush=True,
    )
    command = streamlit_command(args)
    if os.name == "posix":
        # this process becomes the server: Ctrl+C and a signal to stop reach Streamlit itself,
        # and no server is left behind should this process be ended
        os.execv(command[0], command)
    return subprocess.call(command)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number from 1 to 65535, got {text!r}")
    return port


def add_app_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``finsim app`` on the command's subparsers."""
    p = sub.add_parser(
        "app",
        help="serve the interactive explorer in a web browser (needs finsim[app])",
        description="Serve the interactive explorer: choose an example or upload a scenario, "
        "choose a variant, move system share, phasing, risk aversion, activity growth or "
        "delivery of savings, run 1,000 replications and read the fan chart, control totals "
        "and who subsidises whom; download the results workbook. Needs the 'app' extra: "
        "pip install 'finsim[app]'.",
    )
    p.add_argument("--port", type=_port, default=8501, help="the port to serve on (default 8501)")
    p.add_argument(
        "--address",
        default="127.0.0.1",
        help="the address to listen on (default 127.0.0.1: this computer only; 0.0.0.0 "
        "serves every network the computer is on)",
    )
    p.add_argument(
        "--no-browser", action="store_true", help="do not open a web browser on the page"
    )
    p.set_defaults(func=_cmd_app)
