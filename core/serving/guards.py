"""Connection guards for `marquee serve`: a deadline for each request's headers and a cap
on the connections held at once.

uvicorn waits for a request's headers for as long as the client takes, so twenty clients
sending a byte now and then hold twenty connections open forever (a "slowloris"). The
guarded protocol closes a connection whose request headers are not complete within
`header_timeout_s` of its opening (or of its previous response), and closes new
connections at once beyond `max_connections`. The body has its own deadline in the app
(408). Behind a reverse proxy these guards are the proxy's job too (docs/serving.md).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger("marquee.serve")


def guarded_protocol(base: type[Any], header_timeout_s: float, max_connections: int) -> type:
    """`base` (uvicorn's HTTP protocol class) with the two guards."""

    warned = []

    class GuardedHTTPProtocol(base):  # type: ignore[misc, valid-type]
        _header_deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > max_connections:
                if not warned:  # once: under a flood of connections, not a flood of lines
                    warned.append(True)
                    log.warning("over %d connections: closing new ones", max_connections)
                transport.close()
                return
            self._arm_header_deadline()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm_header_deadline()  # the next request on this connection

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm_header_deadline()
            super().connection_lost(exc)

        def _arm_header_deadline(self) -> None:
            self._disarm_header_deadline()
            self._header_deadline = self.loop.call_later(header_timeout_s, self._headers_late)

        def _disarm_header_deadline(self) -> None:
            if self._header_deadline is not None:
                self._header_deadline.cancel()
                self._header_deadline = None

        def _headers_late(self) -> None:
            self._header_deadline = None
            if self.cycle is not None and not self.cycle.response_complete:
                return  # the headers came: a request is being answered
            if not self.transport.is_closing():
                self.transport.close()

    return GuardedHTTPProtocol
