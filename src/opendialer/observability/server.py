"""The uvicorn server that tells the app when its port is bound.

uvicorn runs the app's start-up (lifespan) before it binds its socket. The engine must not dial
for a server that then fails to bind (the port taken by another server, say): it waits for
the app state's ``port_bound``, which this server sets once the socket is listening.
"""

import asyncio
import socket

import uvicorn


class BindFirstServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, port_bound: asyncio.Event) -> None:
        super().__init__(config)
        self.port_bound = port_bound

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)  # exits the process when the port cannot be bound
        if not self.should_exit:
            self.port_bound.set()
