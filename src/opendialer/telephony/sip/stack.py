"""The process's one SIP thread, where sippy's event loop runs.

sippy keeps process-wide state (its event dispatcher ``ED2`` and ``SipConf``), so a process has
one SIP thread and runs one ``sip`` backend at a time. Work goes in with ``ED2.callFromThread``
(:meth:`SipThread.call`); results come out through ``loop.call_soon_threadsafe`` (the backend's
job). The thread is a daemon started on first use and kept for the life of the process.
"""

import ctypes
import ctypes.util
import logging
import os
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any, ClassVar, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
_CLONE_NEWNET = 0x40000000
_NETNS_DIR = "/run/netns"


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    if libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns failed: {os.strerror(err)}")


class SipThread:
    _shared: ClassVar["SipThread | None"] = None
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def shared(cls) -> "SipThread":
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared

    def __init__(self) -> None:
        self._ready = threading.Event()
        self._dispatcher: Any = None
        self._glue: ModuleType | None = None
        self._home_netns: int | None = None
        self._thread = threading.Thread(target=self._run, name="opendialer-sip", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._dispatcher is None:
            raise RuntimeError("the SIP thread failed to start (see the log)")

    @property
    def glue(self) -> ModuleType:
        """:mod:`.sippy_glue`, imported on this thread (use it only from callbacks run here)."""
        assert self._glue is not None
        return self._glue

    def _run(self) -> None:
        try:
            # Imported here so that sippy's dispatcher belongs to this thread.
            from sippy.Core.EventDispatcher import ED2

            from opendialer.telephony.sip import sippy_glue

            self._dispatcher, self._glue = ED2, sippy_glue
            try:
                self._home_netns = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
            except OSError:
                self._home_netns = None
        finally:
            self._ready.set()
        while True:
            try:
                self._dispatcher.loop()
            except Exception:
                log.exception("SIP event loop failed; restarting it")

    def call(self, work: Callable[..., object], *args: object) -> None:
        """Run ``work(*args)`` on the SIP thread soon; exceptions are logged there."""
        self._dispatcher.callFromThread(work, *args)

    def call_sync(self, work: Callable[..., T], *args: object) -> T:
        """Run ``work(*args)`` on the SIP thread and wait for its result (or exception)."""
        if threading.get_ident() == self._thread.ident:
            return work(*args)
        result: T = self._dispatcher.callFromThreadSync(work, *args)
        return result

    def enter_network_namespace(self, name: str | None) -> None:
        """On the SIP thread: join ``/run/netns/<name>``, or go home for ``None``.

        Sockets made afterwards (the backend's) live in that namespace; the rest of the process
        (database connections, the web server) does not move.
        """
        if name is None:
            if self._home_netns is not None:
                _setns(self._home_netns)
            return
        if self._home_netns is None:
            raise OSError("cannot join a network namespace: /proc/thread-self/ns/net unreadable")
        fd = os.open(os.path.join(_NETNS_DIR, name), os.O_RDONLY)
        try:
            _setns(fd)
        finally:
            os.close(fd)
