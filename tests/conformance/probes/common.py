"""What the by-hand probes share: reaching into a case by path, and the databases of the served groups."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def get_at(obj: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        obj = obj[p]
    return obj


def set_at(obj: Any, path: tuple[Any, ...], value: Any) -> Any:
    """A deep copy of ``obj`` with ``value`` at ``path`` (``value`` itself for the empty path)."""
    if not path:
        return value
    out = copy.deepcopy(obj)
    get_at(out, path[:-1])[path[-1]] = value
    return out


@contextmanager
def served_databases() -> Iterator[None]:
    """The served checkers clone their databases from a migrated template, as under pytest (ADR 0407: ~0.1 s a
    case instead of ~0.3 s of migrations); afterwards every clone (the spares made ahead too), the checkers' own
    databases and the template are dropped. With ``PAULP_TEST_TEMPLATE_DB`` already set, that template is used
    and kept."""
    from tests.conftest import TEMPLATE_VAR, _migrated_template, drop_database, wait_for_drops
    from tests.support.runtime import drop_created, services

    admin = services().database_url
    template = None if os.environ.get(TEMPLATE_VAR) else _migrated_template(admin)
    if template:
        os.environ[TEMPLATE_VAR] = template
    try:
        yield
    finally:  # dropping hundreds of databases takes a minute or more (a checkpoint each)
        wait_for_drops(admin)
        drop_created()
        if template:
            drop_database(admin, template)
