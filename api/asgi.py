"""Pure-ASGI request guards: check a request before routing and either answer it or pass it through.

Starlette's ``@app.middleware("http")`` wraps every response in a streaming layer (two of them cost 2-3 ms
a request in bench/trades_query); a guard that never touches the body or the response needs none of that.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

Guard = Callable[[Request], Awaitable[Response | None]]


class GuardMiddleware:
    def __init__(self, app: ASGIApp, guard: Guard) -> None:
        self.app, self.guard = app, guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            answer = await self.guard(Request(scope, receive))  # request.state lives in scope: kept downstream
            if answer is not None:
                await answer(scope, receive, send)
                return
        await self.app(scope, receive, send)
