"""Process plumbing shared by the launchers and the trial processes.

A leaf module (standard library only): the launchers start trials with it,
the trial process (:mod:`.trial_process`) runs under it, and neither
imports the other.
"""
from __future__ import annotations

import os

# the module the fork server imports once, so each forked trial starts warm
FORK_SERVER_PRELOAD = 'mmseg_dpc.search.trial_process'
# the environment variable that tells a forked trial its driver's PID
DRIVER_PID = 'MMSEG_DPC_DRIVER_PID'

_FORK_CONTEXT = None


def die_with_parent() -> None:
    """Runs in a trial process: SIGKILL it when its parent (the driver, or
    the fork server) dies, so a killed driver leaves no orphan training
    (Linux)."""
    parent = os.getppid()
    try:
        import ctypes
        ctypes.CDLL('libc.so.6', use_errno=True).prctl(1, 9)  # PDEATHSIG
    except OSError:
        return
    if os.getppid() != parent:  # the parent died before prctl took hold
        os._exit(1)


def fork_context():
    """The ``forkserver`` context whose server preloads torch and mmseg
    (:data:`FORK_SERVER_PRELOAD`) once for all trials."""
    global _FORK_CONTEXT
    if _FORK_CONTEXT is None:
        import multiprocessing
        _FORK_CONTEXT = multiprocessing.get_context('forkserver')
        _FORK_CONTEXT.set_forkserver_preload([FORK_SERVER_PRELOAD])
    return _FORK_CONTEXT


def start_fork_server() -> None:
    """Start the fork server now, so it imports torch and mmseg while the
    driver does the same (instead of when the first trial starts)."""
    from multiprocessing import forkserver
    fork_context()
    forkserver.ensure_running()
