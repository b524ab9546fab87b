"""The CLI's Rich consoles: whole values when the output is not a terminal."""

from __future__ import annotations

import os
import sys

from rich.console import Console

# Off a terminal Rich assumes 80 columns, and a ten-column table then cut amounts and ids to "7.51…" in
# piped or redirected output (cron mail, grep, a file): what an operator reads there must be whole.
PIPED_WIDTH = 240


def cli_console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    piped = not stream.isatty() and not os.environ.get("COLUMNS")
    return Console(stderr=stderr, width=PIPED_WIDTH if piped else None)
