"""The import's reading process: the reading side of a big import, beside the importing one.

The importing process streams the file's bytes to it through a pipe; it sends back what it
learns as plain pickles through another: the source's shape, each checked chunk, and how the
columns were mapped, or the error that stops the import.
"""

import gc
import io
import multiprocessing
import pickle
import queue
import signal
import threading
import traceback
from collections.abc import Iterator
from contextlib import suppress
from multiprocessing.connection import Connection
from types import TracebackType
from typing import IO, Any, NamedTuple

from opendialer.contacts.imports.reading import (
    RELAXED_GC,
    CheckedChunk,
    FileReader,
    Mapped,
    ReadJob,
    SourceInfo,
)
from opendialer.contacts.imports.sources import BlockStream
from opendialer.errors import OpendialerError

PIPE_BLOCK = 1 << 20
LOOKAHEAD = 4  # chunks the reading process may be ahead of the importing one
JOIN_SECONDS = 10.0


class _Failed(NamedTuple):
    error: Exception


def _received(connection: Connection) -> Iterator[bytes]:
    """The blocks of the file the importing process sends, until it closes the pipe."""
    while True:
        try:
            yield connection.recv_bytes()
        except EOFError:
            return


def _send(connection: Connection, message: object) -> None:
    # Plain pickle in this thread: multiprocessing's queue pickles in a thread of its own, with
    # its own reducers, and that cost a fifth of this process's time.
    connection.send_bytes(pickle.dumps(message, pickle.HIGHEST_PROTOCOL))


def _read_in_process(file: Connection, results: Connection, job: ReadJob, dnc: set[str]) -> None:
    """The reading process: everything it learns goes to ``results``, errors included."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the importing process's to handle
    gc.set_threshold(*RELAXED_GC)
    try:
        stream = io.BufferedReader(BlockStream(_received(file)), PIPE_BLOCK)
        reader = FileReader(stream, job, dnc.intersection)
        _send(results, reader.info)
        for chunk in reader.chunks():
            _send(results, chunk)
        _send(results, reader.mapped())
    except OpendialerError as exc:
        _send(results, _Failed(exc))
    except BaseException:  # anything else is a bug; the importing process shows where
        failure = RuntimeError("the reading process failed:\n" + traceback.format_exc())
        _send(results, _Failed(failure))


def _context() -> Any:
    # Not fork(): the API server runs threads, and forking a threaded process is unsafe.
    try:
        context: Any = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
    except ValueError:  # no forkserver on this platform
        context = multiprocessing.get_context("spawn")
    return context


class ReadingProcess:
    """Reads a file in a second process. Two threads here move the bytes: one streams the file
    to it, one receives its messages, up to ``LOOKAHEAD`` ahead of the importing thread."""

    def __init__(self, file: IO[bytes], job: ReadJob, dnc: set[str]) -> None:
        context = _context()
        file_out, self._file_in = context.Pipe(duplex=False)
        self._results, results_in = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_read_in_process,
            args=(file_out, results_in, job, dnc),
            name="opendialer-import-reader",
            daemon=True,
        )
        self._process.start()
        file_out.close()  # so that either side sees the other end
        results_in.close()
        self._feed_error: BaseException | None = None
        self._feeder = threading.Thread(target=self._feed, args=(file,), daemon=True)
        self._inbox: queue.Queue[bytes | None] = queue.Queue(LOOKAHEAD)
        self._receiver = threading.Thread(target=self._receive, daemon=True)
        self._feeder.start()
        self._receiver.start()
        self._mapped: Mapped | None = None
        try:
            self.info: SourceInfo = self._next()
        except BaseException:
            self.close(aborted=True)
            raise

    def __enter__(self) -> "ReadingProcess":
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close(aborted=kind is not None)

    def _feed(self, file: IO[bytes]) -> None:
        try:
            while block := file.read(PIPE_BLOCK):
                self._file_in.send_bytes(block)
        except BrokenPipeError:
            pass  # the reading process stopped early: it says why, or it was stopped
        except BaseException as exc:  # the file could not be read: the import must not finish
            self._feed_error = exc
        finally:
            self._file_in.close()

    def _receive(self) -> None:
        try:
            while True:
                self._inbox.put(self._results.recv_bytes())
        except (EOFError, OSError):
            self._inbox.put(None)  # the reading process has ended
        finally:
            self._results.close()

    def _next(self) -> Any:
        blob = self._inbox.get()
        if blob is None:
            self._process.join(JOIN_SECONDS)
            code = self._process.exitcode
            raise RuntimeError(f"the reading process ended without a word (exit code {code})")
        message = pickle.loads(blob)
        if isinstance(message, _Failed | Mapped):
            self._check_feed()
        if isinstance(message, _Failed):
            raise message.error
        return message

    def _check_feed(self) -> None:
        """Once the reading process is done: if this side could not read the file, that is the
        error (the other side saw the file end early, and took it for the end)."""
        self._feeder.join()
        if self._feed_error is not None:
            raise self._feed_error

    def chunks(self) -> Iterator[CheckedChunk]:
        while isinstance(message := self._next(), CheckedChunk):
            yield message
        self._mapped = message

    def mapped(self) -> Mapped:
        if self._mapped is None:
            raise RuntimeError("the file has not been read to its end")
        return self._mapped

    def close(self, aborted: bool) -> None:
        if not aborted:
            self._process.join(JOIN_SECONDS)  # it ends on its own once everything is sent
        if self._process.is_alive():
            self._process.kill()
        self._process.join()
        self._feeder.join()
        while self._receiver.is_alive():  # it may wait for room for its last message
            with suppress(queue.Empty):
                self._inbox.get(timeout=0.1)
        self._receiver.join()
