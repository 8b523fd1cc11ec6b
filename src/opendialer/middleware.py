"""ASGI middleware: refuse request bodies over the configured size with a 413 error body, and
native JSON bodies nested too deep with a 400, before any route, dependency or credential check;
name each request's face for the audit trail."""

import json
from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from opendialer.audit.context import WEB, acting_through
from opendialer.errors import error_body
from opendialer.inputs import declared_length, json_depth


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
        declared = dict(scope.get("headers", [])).get(b"content-length", b"")
        if declared_length(declared.decode("latin-1")) > limit:
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


class JsonDepthLimit:
    """Refuse a JSON body nested deeper than ``max_depth`` under ``prefixes`` (the native API).

    FastAPI parses a body before the route's dependencies run, credentials included, so the
    limit has to come first. Dialects parse their bodies themselves with the same limit
    (opendialer.inputs.loads_json) to answer in their own vocabulary. Sits inside
    :class:`BodySizeLimit`, so the body it holds is already bounded.
    """

    def __init__(self, app: ASGIApp, max_depth: int, prefixes: tuple[str, ...]) -> None:
        self.app = app
        self.max_depth = max_depth
        self.prefixes = prefixes

    def _applies(self, scope: Scope) -> bool:
        if scope["type"] != "http" or not scope.get("path", "").startswith(self.prefixes):
            return False
        # FastAPI reads a body without a Content-Type as JSON too.
        content_type = dict(scope.get("headers", [])).get(b"content-type", b"")
        return not content_type or b"json" in content_type.lower()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._applies(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        message: Message = {"type": "http.request", "more_body": True}
        while message["type"] == "http.request" and message.get("more_body", False):
            message = await receive()
            chunks.append(message.get("body", b""))
        body = b"".join(chunks)
        if message["type"] == "http.request":
            if json_depth(body, self.max_depth) > self.max_depth:
                text = f"The JSON body nests deeper than {self.max_depth} levels"
                await _send_error(send, 400, "malformed_json", text)
                return
            message = {"type": "http.request", "body": body, "more_body": False}
        await self.app(scope, _replaying(message, receive), send)


def _replaying(first: Message, receive: Receive) -> Receive:
    """``first`` (the whole body, or the client's disconnect), then the real channel."""
    pending = [first]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


async def _reject(send: Send, limit: int) -> None:
    message = f"The request body is larger than {limit} bytes"
    await _send_error(send, 413, "payload_too_large", message)


async def _send_error(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps(error_body(code, message)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class AuditFaces:
    """Every HTTP request is audited as made through the face its path belongs to (the first
    of ``faces``, ``(path prefix, face)``, that matches; else ``web``); the credential checks
    fill in who acts (``opendialer.audit.context``)."""

    def __init__(self, app: ASGIApp, faces: Sequence[tuple[str, str]]) -> None:
        self.app = app
        self.faces = tuple(faces)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        face = next((face for prefix, face in self.faces if path.startswith(prefix)), WEB)
        with acting_through(face):
            await self.app(scope, receive, send)
