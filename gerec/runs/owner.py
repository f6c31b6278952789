"""The process that owns a running run, and whether it is still there.

A run is ``running`` from the moment ``evaluate`` stores it until it says how far it got; a SIGKILL
or a crash leaves it so. Since store version 4 the run keeps its owner (:class:`Owner`): the host
name, the process id, and when that process started (the boot and the start time Linux gives in
``/proc``), so a process id taken again by another process, or after a reboot, never passes for
the owner. ``--resume`` takes the run over: it becomes the owner.

Reading a running run, :func:`liveness` says :data:`ALIVE` (its process runs on this host),
:data:`GONE` (it does not: the run stopped without a word), :data:`ELSEWHERE` (the owner is on
another host: whether it still runs cannot be told from here), or ``None`` (no owner recorded, or
no ``/proc`` to ask: cannot be told either).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

LIVENESS = ALIVE, GONE, ELSEWHERE = ("alive", "gone", "elsewhere")
PROC = Path("/proc")
ENDED = ("Z", "X")
"""The states in ``/proc/PID/stat`` of a process that has ended (a zombie not yet reaped, dead)."""


@dataclass(frozen=True)
class Owner:
    """The ``evaluate`` process that owns a run."""

    host: str
    pid: int
    started: str | None
    """``BOOT_ID/START_TICKS`` (:func:`process_start`); ``None`` where it cannot be read."""


def this_process() -> Owner:
    """The owner a run stored by this process records."""
    return Owner(socket.gethostname(), os.getpid(), process_start(os.getpid()) or None)


def process_start(pid: int) -> str | None:
    """When process ``pid`` of this host started, as ``BOOT_ID/START_TICKS`` (read from ``/proc``);
    ``""`` when no such process runs (or it has ended and is not yet reaped); ``None`` where it
    cannot be told (a system without ``/proc``).

    >>> process_start(os.getpid()) == this_process().started
    True
    """
    try:
        boot = (PROC / "sys" / "kernel" / "random" / "boot_id").read_text().strip()
    except OSError:
        return None
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:  # no such process
        return ""
    fields = stat.rsplit(")", 1)[1].split()  # after "PID (NAME)": field 3 (state) onwards
    if fields[0] in ENDED:
        return ""
    return f"{boot}/{fields[19]}"  # field 22: the start time, in clock ticks after boot


def liveness(owner: Owner | None) -> str | None:
    """Whether the owner of a running run is still there (:data:`LIVENESS`; ``None``: cannot be told)."""
    if owner is None:
        return None
    if owner.host != socket.gethostname():
        return ELSEWHERE
    now = process_start(owner.pid)
    if now is None or owner.started is None:
        return None
    return ALIVE if now == owner.started else GONE
