"""ASGI middleware: refuse request bodies over the configured size with a 413 error body."""

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from opendialer.errors import error_body


class _TooLarge(Exception):
    pass


class BodySizeLimit:
    """Counts the bytes actually received, so chunked uploads are limited too."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        max_import_bytes: int,
        path_limits: dict[str, int] | None = None,
        own_limit_prefixes: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_import_bytes = max_import_bytes
        self.path_limits = path_limits or {}  # exact paths with their own limit
        # Routes under these prefixes limit their bodies themselves (to answer in their own
        # vocabulary, e.g. the Voicenter envelope), so they pass through untouched.
        self.own_limit_prefixes = own_limit_prefixes

    def _limit(self, scope: Scope) -> int:
        path: str = scope.get("path", "")
        if path in self.path_limits:
            return self.path_limits[path]
        return self.max_import_bytes if path.endswith(":import") else self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path", "").startswith(self.own_limit_prefixes):
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope)
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _reject(send, limit)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await _reject(send, limit)


async def _reject(send: Send, limit: int) -> None:
    body = json.dumps(
        error_body("payload_too_large", f"The request body is larger than {limit} bytes")
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
