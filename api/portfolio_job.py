"""The book valued for the circuit breaker (trading §2.3 portfolio update; ADR 0301), run by the exits job.

The portfolio is the book that carries money: LIVE when any strategy trades LIVE (its LIVE strategies'
capital, closes and open positions), else the paper book of the strategies trading on paper. A paper loss
never moves the breaker that gates LIVE orders (ADR 0286). Its open positions feed tail concentration (§3.6,
ADR 0325).

The report is what the log keeps of each valuation: the exits run's ``JobRun.Completed`` carries it under
``portfolio``, and the ``portfolio_snapshots`` view is projected from it (ADR 0356), so its keys are a stored
contract: add keys, never rename or drop one.
"""

from __future__ import annotations

import logging
from typing import Any

from paulp.domain.clock import iso_utc
from paulp.domain.execution_policy import ExecutionMode
from paulp.domain.tail import tail_concentration

log = logging.getLogger("paulp.portfolio")


def value_book(container: Any) -> dict[str, Any]:
    """Value the book and hand it to the breaker; a failure is reported (and logged), never raised, so the
    exits that follow still run."""
    try:
        modes = dict(container.execution_modes())
        live = sorted(s for s, m in modes.items() if m is ExecutionMode.LIVE)
        mode, strategies = ("LIVE", live) if live else (
            "PAPER", sorted(s for s, m in modes.items() if m is ExecutionMode.PAPER))
        book = container.portfolio().valuation(strategies, mode)
        changed, state = container.breaker.portfolio_valued(book.total_value, book.daily_pnl, book.max_drawdown,
                                                            book.positions)
        tail = tail_concentration(book.positions)
    except Exception as exc:
        log.exception("portfolio valuation for the breaker failed")
        return {"error": type(exc).__name__}
    return {"mode": mode, "strategies": strategies, "totalValue": book.total_value, "dailyPnl": book.daily_pnl,
            "weeklyPnl": book.weekly_pnl, "maxDrawdown": book.max_drawdown, "positionCount": len(book.positions),
            "valuedAt": iso_utc(book.valued_at),
            "tail": {"count": tail.count, "hhi": round(tail.hhi, 4), "compliant": tail.compliant},
            "changed": changed, "state": state.value}
