"""Stopping a command cleanly on SIGTERM or Ctrl-C (SIGINT): one plain line, exit 128 + the signal,
and no output left half-written.

Inside :func:`stop_signals`, the first of either signal raises :class:`Interrupted` in the main
thread, as Python raises ``KeyboardInterrupt`` for Ctrl-C, so the command's ``finally`` blocks run:
``fit-bn``, ``explain-faces``, ``train-faces``, ``tune``, ``evaluate-faces`` and ``runs export``
leave the files they replace in one step (:func:`gerec.fileio.replaced_together`) as they were and
no temporary file. Within :meth:`StopSignals.held` a signal waits until the block ends: files
replaced together are all replaced (:func:`held_where_handled`), and ``evaluate`` stops between two
images, each written to every place (the store, OUT.csv, the count of rows) or to none. Later
signals are only recorded: the stop already under way (the sidecar written, the workers ended) is
not cut short. Outside the main thread nothing is installed.

Examples
--------
>>> exit_code(Interrupted(signal.SIGTERM)), exit_code(KeyboardInterrupt()), stop_name(KeyboardInterrupt())
(143, 130, 'SIGINT (Ctrl-C)')
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
SIGNAL_EXIT_BASE = 128
"""A process stopped by signal N exits with 128 + N (the shell's convention: 130 Ctrl-C, 143 SIGTERM)."""


class Interrupted(KeyboardInterrupt):
    """A stop signal arrived. A ``KeyboardInterrupt``, so that ``except Exception`` (one failed
    photo) never swallows it and ``gerec.cli.main`` still ends the command if nothing else does."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def signal_of(exc: KeyboardInterrupt) -> int:
    """The signal that stopped the run: an :class:`Interrupted`'s, else Ctrl-C's (Python's own)."""
    return exc.signum if isinstance(exc, Interrupted) else int(signal.SIGINT)


def exit_code(exc: KeyboardInterrupt) -> int:
    """The exit code of a run stopped by ``exc``: 128 + the signal."""
    return SIGNAL_EXIT_BASE + signal_of(exc)


def stop_name(exc: KeyboardInterrupt) -> str:
    """How a message names the signal: ``SIGTERM``, ``SIGINT (Ctrl-C)``."""
    signum = signal_of(exc)
    return signal.Signals(signum).name + (" (Ctrl-C)" if signum == signal.SIGINT else "")


class StopSignals:
    """The stop signals received, and the sections they wait for."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._held = 0
        self._raised = False

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        """The handler: record the first signal; raise now unless held (and only once)."""
        if self.received is None:
            self.received = signum
        self._raise_if_due()

    @contextmanager
    def held(self) -> Iterator[None]:
        """A section a signal does not cut: one arriving inside raises when the section ends."""
        self._held += 1
        try:
            yield
        finally:
            self._held -= 1
        self._raise_if_due()

    def _raise_if_due(self) -> None:
        if self.received is not None and not self._held and not self._raised:
            self._raised = True
            raise Interrupted(self.received)


_HANDLING: list[StopSignals] = []
"""The :class:`StopSignals` of the :func:`stop_signals` blocks the main thread is in, innermost last."""


@contextmanager
def stop_signals() -> Iterator[StopSignals]:
    """SIGTERM and SIGINT handled by a :class:`StopSignals` within the block (the previous
    handlers come back after it)."""
    stops = StopSignals()
    if threading.current_thread() is not threading.main_thread():
        yield stops
        return
    previous = {signum: signal.signal(signum, stops.on_signal) for signum in STOP_SIGNALS}
    _HANDLING.append(stops)
    try:
        yield stops
    finally:
        _HANDLING.pop()
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)  # None: set outside Python


def held_where_handled() -> AbstractContextManager[None]:
    """A section a stop signal does not cut (:meth:`StopSignals.held`) when the main thread runs it
    inside :func:`stop_signals`; elsewhere nothing is held."""
    if _HANDLING and threading.current_thread() is threading.main_thread():
        return _HANDLING[-1].held()
    return nullcontext()
