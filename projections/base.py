"""What every projection offers its runners: a name, the tables it owns, and ``apply(event, cur, nid)``."""

from __future__ import annotations

from typing import Any, Protocol

from psycopg import Cursor


class Projection(Protocol):
    name: str

    @property
    def tables(self) -> tuple[str, ...]:
        """Tables in schema "views", in dependency order (replay copies them)."""
        ...

    def apply(self, event: Any, cur: Cursor[Any], notification_id: int) -> None:
        """Write the event's effect with unqualified table names (search_path selects live or scratch)."""
        ...
