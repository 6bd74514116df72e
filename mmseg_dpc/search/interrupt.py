"""Ctrl-C and SIGTERM (a terminal user, a batch scheduler's preemption).

The first SIGINT or SIGTERM only sets a flag: the search's loops check it
between polls (:func:`check`) and stop cleanly, putting their running
trials back in the study (neither failures nor retries), writing what is
done, and saying how to continue; the command then exits 128 + the
signal's number (130, 143). A second signal exits at once: every trial
process dies with its driver (``PR_SET_PDEATHSIG``, and the trials'
watchdog), so nothing is left running either way.
"""
from __future__ import annotations

import os
import signal
from typing import Optional

_received: Optional[int] = None


class SearchInterrupted(BaseException):
    """The search was asked to stop by a signal (a ``BaseException``, as
    ``KeyboardInterrupt``: no ``except Exception`` swallows it)."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signal.Signals(signum).name)

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def _on_signal(signum, frame) -> None:
    global _received
    if _received is not None:  # the second one: at once
        os._exit(128 + signum)
    _received = signum


def install() -> None:
    """Route SIGINT and SIGTERM to the flag (a command's main thread)."""
    global _received
    _received = None
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _on_signal)


def received() -> bool:
    """Whether a signal has come."""
    return _received is not None


def check() -> None:
    """Raise :class:`SearchInterrupted` once a signal has come."""
    if _received is not None:
        raise SearchInterrupted(_received)


def as_interrupt(error: BaseException) -> Optional[SearchInterrupted]:
    """``error`` as a :class:`SearchInterrupted` where it is one (or a
    ``KeyboardInterrupt``, where no handler was installed), else
    ``None``."""
    if isinstance(error, SearchInterrupted):
        return error
    if isinstance(error, KeyboardInterrupt):
        return SearchInterrupted(signal.SIGINT)
    return None
