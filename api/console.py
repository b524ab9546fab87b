"""The CLI's Rich consoles: whole values when the output is not a terminal, printed as they are.

Markup and emoji codes are off (ADR 0499): what the CLI prints is mostly stored text (tickers, reasons, actors,
ids), and as markup a value holding ``[/]`` crashed the command (rich's MarkupError) while ``[red]`` or
``:warning:`` changed what the operator read. Styling is asked for explicitly, with ``styled``."""

from __future__ import annotations

import os
import sys

from rich.console import Console
from rich.text import Text

# Off a terminal Rich assumes 80 columns, and a ten-column table then cut amounts and ids to "7.51…" in
# piped or redirected output (cron mail, grep, a file): what an operator reads there must be whole.
PIPED_WIDTH = 240


def cli_console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    piped = not stream.isatty() and not os.environ.get("COLUMNS")
    return Console(stderr=stderr, width=PIPED_WIDTH if piped else None, markup=False, emoji=False)


def styled(style: str, label: str, rest: str = "") -> Text:
    """``label`` in ``style``, then ``rest`` plain: neither is read as markup."""
    return Text.assemble((label, style), rest)
