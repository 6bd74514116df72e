"""Start trial processes from a warm fork server.

Importing torch, mmcv, mmseg and this package takes seconds; a short proxy
trial trains for about as long. The local launcher therefore forks each
trial from a server process that imported them once (multiprocessing's
``forkserver`` with this module preloaded). Each trial is still its own
process running the train tool (:mod:`mmseg_dpc.tools.train`) as
``__main__``: a crash, an OOM kill or
a NaN loss still ends that trial only.
"""
import os
import runpy
import sys
import time

import mmengine.runner  # noqa: F401  (preloaded by the fork server)
import mmseg.models  # noqa: F401
import optuna  # noqa: F401  (trials of a search with a pruner report)
import torch

# what a trial's config registers (custom_imports), imported once here
from .. import datasets, engine, models  # noqa: F401
from . import pruning  # noqa: F401  (the hook of trials with a pruner)
from .processes import DRIVER_PID, die_with_parent


def release_fork_server() -> None:
    """Close this trial's copy of the fork server's liveness pipe.

    multiprocessing hands every forked child the write end of the pipe
    whose end-of-file tells the fork server that its driver is gone, so
    that a child could start processes of its own. A trial holding it
    keeps the fork server alive after a SIGKILL of the driver, and the
    fork server's exit is what kills the trial (:func:`die_with_parent`):
    trials then trained on for their whole run. Trials start no processes
    through the fork server, so they let it go.
    """
    from multiprocessing import forkserver
    server = forkserver._forkserver
    fd = getattr(server, '_forkserver_alive_fd', None)
    if fd is not None:
        try:
            os.close(fd)
        except OSError:
            pass
        server._forkserver_alive_fd = None


def _gone(pid: int) -> bool:
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] in 'ZX'
    except (OSError, IndexError):
        return True


def watch_driver(pid: int, interval: float = 0.25) -> None:
    """End this trial within ``interval`` seconds of its driver's death
    (killed or exited, zombie included), without waiting for the fork
    server to notice and exit first, which can take seconds on a loaded
    machine."""
    import signal
    import threading

    def watch() -> None:
        while not _gone(pid):
            time.sleep(interval)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, daemon=True,
                     name='driver-watchdog').start()


def run_module(module: str, argv, env: dict, log_path: str) -> None:
    """Process target: run ``module`` with ``argv`` as ``__main__`` (as
    ``python -m module argv``), with ``env`` applied and output appended to
    ``log_path``. In a session of its own, as a cold trial: a terminal's
    Ctrl-C reaches the driver, which ends its trials itself (see
    :mod:`.interrupt`), not each trial at once."""
    os.setsid()
    die_with_parent()
    release_fork_server()
    if env.get(DRIVER_PID):
        watch_driver(int(env[DRIVER_PID]))
    os.environ.update(env)
    threads = env.get('OMP_NUM_THREADS')
    if threads:
        torch.set_num_threads(int(threads))
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdout.reconfigure(line_buffering=True)
    sys.stderr.reconfigure(line_buffering=True)
    sys.argv = [module, *argv]
    runpy.run_module(module, run_name='__main__', alter_sys=True)
