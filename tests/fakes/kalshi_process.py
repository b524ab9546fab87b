"""The loopback Kalshi exchange (``FakeKalshiExchange``) in a process of its own, for tests that SIGKILL the
process trading against it: what the exchange received outlives the killed client (ADR 0467).

``python -m tests.fakes.kalshi_process CONFIG`` where CONFIG is a JSON file:
``{"public_key_pem", "key_id", "journal", "final", "answer_delay_s", "markets": {ticker: {field: value}}}``
(a ticker the recorded data lacks is added with the fields given).
It prints one line ``{"base_url": ...}`` once it listens. Every order request that reaches the order handler
(signed, parsed) is appended to ``journal`` as a JSON line the moment the exchange has acted on it, before its
answer is sent, and so is each cancel; every order and cancel answer is held back ``answer_delay_s`` seconds
after the exchange acted, so a client killed on seeing the journal line dies with the order placed (or
cancelled) and the answer unread. On SIGTERM the
exchange writes its orders and every client order id it was sent (duplicates included) to ``final`` and exits.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from starlette.responses import Response

from tests.fakes.kalshi_exchange import FakeKalshiExchange, Fault, _error


class JournallingExchange(FakeKalshiExchange):
    """The fake exchange, writing each order request it handled (and each cancel) to a journal file at once."""

    def __init__(self, journal: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._journal = journal.open("a", encoding="utf-8")
        self.order_posts: list[str | None] = []

    def _write(self, entry: dict[str, Any]) -> None:
        self._journal.write(json.dumps({**entry, "at": time.time()}) + "\n")
        self._journal.flush()

    def _place(self, body: Any) -> Response:
        response = super()._place(body)
        client_id = body.get("client_order_id") if isinstance(body, dict) else None
        self.order_posts.append(client_id)
        placed = json.loads(bytes(response.body)).get("order") if response.status_code == 201 else None
        self._write({"kind": "order", "client_order_id": client_id, "http": response.status_code,
                     "status": placed and placed["status"], "fill_count": placed and placed["fill_count"]})
        return response

    def _order_item(self, request: Any, payload: Any) -> Response:
        order = self._orders.get(request.path_params["order_id"])
        if request.method == "DELETE" and order is not None and order["status"] == "canceled":
            # Kalshi cancels only what rests: a second cancel (a killed client's retry) is refused, so the
            # client has to learn the outcome by reading the order
            response = _error(409, "order_not_resting", "order already canceled")
        else:
            response = super()._order_item(request, payload)
        if request.method == "DELETE":
            self._write({"kind": "cancel", "order_id": request.path_params["order_id"],
                         "http": response.status_code})
        return response

    def final_record(self) -> dict[str, Any]:
        with self._lock:
            return {"orders": [dict(o) for o in self._orders.values()], "order_posts": list(self.order_posts)}


def main(config_path: str) -> None:
    config = json.loads(Path(config_path).read_text())
    exchange = JournallingExchange(Path(config["journal"]), public_key=config["public_key_pem"],
                                   key_id=config["key_id"])
    for ticker, fields in config.get("markets", {}).items():  # a recorded market changed, or a new one
        exchange.markets[ticker] = {**exchange.markets.get(ticker, {}), **fields}
        exchange.candles.setdefault(ticker, [])
    delay = float(config.get("answer_delay_s", 0.0))
    if delay:  # the exchange acts first, then answers late: a client killed meanwhile never reads the answer
        for method in ("POST", "DELETE"):  # an order placed, a cancel done
            exchange.inject(Fault(status=None, delay_s=delay, process=True, method=method,
                                  path_contains="/portfolio/orders", times=10**9))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    exchange.start()
    print(json.dumps({"base_url": exchange.base_url}), flush=True)
    while not stop.wait(0.1):
        pass
    Path(config["final"]).write_text(json.dumps(exchange.final_record(), default=str))
    exchange.stop()


if __name__ == "__main__":
    main(sys.argv[1])
