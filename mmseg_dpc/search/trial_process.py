"""Start trial processes from a warm fork server.

Importing torch, mmcv, mmseg and this package takes seconds; a short proxy
trial trains for about as long. The local launcher therefore forks each
trial from a server process that imported them once (multiprocessing's
``forkserver`` with this module preloaded). Each trial is still its own
process running ``tools/train.py`` as ``__main__``: a crash, an OOM kill or
a NaN loss still ends that trial only.
"""
import os
import runpy
import sys

import mmengine.runner  # noqa: F401  (preloaded by the fork server)
import mmseg.models  # noqa: F401
import torch

import mmseg_dpc  # noqa: F401
from mmseg_dpc.search.launchers import die_with_parent


def run_script(script: str, argv, env: dict, log_path: str) -> None:
    """Process target: run ``script`` with ``argv`` as ``__main__``, with
    ``env`` applied and output appended to ``log_path``."""
    die_with_parent()
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
    sys.argv = [script, *argv]
    runpy.run_path(script, run_name='__main__')
