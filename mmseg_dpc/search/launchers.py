"""Where trials run: a local pool of processes, or Ray tasks.

Each trial is a separate process (the train tool): a crash, an
out-of-memory kill or a NaN loss ends that trial, never the search.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from .processes import DRIVER_PID, die_with_parent, fork_context


@dataclass
class Finished:
    """Outcome of one trial process."""
    key: object
    returncode: Optional[int]
    wall_time: float
    timed_out: bool = False


def run_command(cmd: Sequence[str], env: Dict[str, str], log_path: str,
                timeout: Optional[float]) -> Tuple[Optional[int], float, bool]:
    """Run ``cmd`` to completion with output to ``log_path``; kill it after
    ``timeout`` seconds. Returns ``(returncode, wall seconds, timed out)``."""
    start = time.time()
    proc = _Proc(cmd, env, log_path, warm=False)
    try:
        rc, timed_out = proc.popen.wait(timeout=timeout), False
    except subprocess.TimeoutExpired:
        proc.kill()
        rc, timed_out = None, True
    proc.close()
    return rc, time.time() - start, timed_out


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, 9)
    except ProcessLookupError:
        pass
    proc.wait()


class _Proc:
    """A trial process: ``subprocess.Popen`` or a forked
    ``multiprocessing.Process``, behind one small interface."""

    def __init__(self, cmd, env, log_path, warm: bool) -> None:
        if warm and len(cmd) > 2 and cmd[0] == sys.executable \
                and cmd[1] == '-m':
            from .trial_process import run_module
            env = dict(env, **{DRIVER_PID: str(os.getpid())})
            self.p = fork_context().Process(
                target=run_module, args=(cmd[2], cmd[3:], env, log_path))
            self.p.start()
            self.popen = None
        else:
            self.log = open(log_path, 'ab')
            self.popen = subprocess.Popen(
                list(cmd), env=env, stdout=self.log,
                stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=die_with_parent)

    def poll(self) -> Optional[int]:
        if self.popen is not None:
            return self.popen.poll()
        return self.p.exitcode

    @property
    def sentinel(self) -> Optional[int]:
        return None if self.popen is not None else self.p.sentinel

    def kill(self) -> None:
        if self.popen is not None:
            _kill_group(self.popen)
        else:
            self.p.kill()
            self.p.join()

    def close(self) -> None:
        if self.popen is not None:
            self.log.close()
        else:
            self.p.join()
            self.p.close()


@dataclass
class _Running:
    proc: _Proc
    start: float
    timeout: Optional[float]


class LocalLauncher:
    """Up to ``workers`` trial processes at once on this machine. The
    trial in slot ``i`` sees GPU ``gpus[i % len(gpus)]`` alone through
    ``CUDA_VISIBLE_DEVICES`` (so with more workers than GPUs, trials share
    them), or no GPU where ``gpus`` is empty. With ``warm`` (default),
    Python trials are forked from a server that has imported torch and
    mmseg already
    (:mod:`.trial_process`), which saves seconds per trial."""

    def __init__(self, workers: int = 1, gpus: Sequence[int] = (),
                 warm: bool = True) -> None:
        if workers < 1:
            raise ValueError(f'workers must be >= 1, got {workers}')
        self.workers = workers
        self.gpus = list(gpus)
        self.warm = warm
        self.running: Dict[object, _Running] = {}
        self._slots: Dict[object, int] = {}

    @property
    def free_slots(self) -> int:
        return self.workers - len(self.running)

    def submit(self, key, cmd: Sequence[str], log_path: str,
               timeout: Optional[float], env: Optional[dict] = None) -> None:
        slot = min(set(range(self.workers)) - set(self._slots.values()))
        env = dict(os.environ if env is None else env)
        env['CUDA_VISIBLE_DEVICES'] = (str(self.gpus[slot % len(self.gpus)])
                                       if self.gpus else '')
        proc = _Proc(cmd, env, log_path, self.warm)
        self.running[key] = _Running(proc, time.time(), timeout)
        self._slots[key] = slot

    def poll(self) -> List[Finished]:
        done = []
        for key, r in list(self.running.items()):
            rc = r.proc.poll()
            elapsed = time.time() - r.start
            timed_out = rc is None and r.timeout is not None \
                and elapsed > r.timeout
            if timed_out:
                r.proc.kill()
            if rc is not None or timed_out:
                r.proc.close()
                del self.running[key], self._slots[key]
                done.append(Finished(key, rc, elapsed, timed_out))
        return done

    def wait(self, timeout: float) -> None:
        """Sleep until a trial process ends or ``timeout`` passes."""
        from multiprocessing.connection import wait
        sentinels = [r.proc.sentinel for r in self.running.values()]
        if sentinels and None not in sentinels:
            wait(sentinels, timeout)
        else:
            time.sleep(timeout)

    def shutdown(self) -> None:
        for r in self.running.values():
            r.proc.kill()
            r.proc.close()
        self.running.clear()
        self._slots.clear()


class RayLauncher:
    """Each trial as a Ray task with the configured CPUs/GPUs, on the
    cluster at ``address`` or a local Ray runtime. Ray assigns the GPUs and
    sets ``CUDA_VISIBLE_DEVICES`` for the task; the trial process inherits
    it."""

    def __init__(self, address: Optional[str] = None, num_cpus: float = 1,
                 num_gpus: float = 0, max_concurrent: Optional[int] = None,
                 init_kwargs: Optional[dict] = None) -> None:
        import ray
        self.ray = ray
        if not ray.is_initialized():
            kwargs = dict(include_dashboard=False, log_to_driver=False)
            kwargs.update(init_kwargs or {})
            ray.init(address=address, **kwargs)
        self.task = ray.remote(_ray_run).options(num_cpus=num_cpus,
                                                 num_gpus=num_gpus)
        total = ray.cluster_resources().get('CPU', 1)
        self.workers = max_concurrent or max(1, int(total // max(num_cpus,
                                                                 1e-6)))
        self.refs: Dict[object, object] = {}

    @property
    def free_slots(self) -> int:
        return self.workers - len(self.refs)

    def submit(self, key, cmd: Sequence[str], log_path: str,
               timeout: Optional[float], env: Optional[dict] = None) -> None:
        env = dict(os.environ if env is None else env)
        self.refs[key] = self.task.remote(list(cmd), env, log_path, timeout)

    def poll(self) -> List[Finished]:
        if not self.refs:
            return []
        keys = {ref: key for key, ref in self.refs.items()}
        ready, _ = self.ray.wait(list(keys), num_returns=len(keys),
                                 timeout=0)
        done = []
        for ref in ready:
            key = keys[ref]
            del self.refs[key]
            try:
                rc, wall, timed_out = self.ray.get(ref)
            except Exception as e:  # the task itself died (node lost, ...)
                rc, wall, timed_out = -1, 0.0, False
                print(f'[search] ray task of trial {key} failed: {e}')
            done.append(Finished(key, rc, wall, timed_out))
        return done

    def wait(self, timeout: float) -> None:
        if self.refs:
            self.ray.wait(list(self.refs.values()), num_returns=1,
                          timeout=timeout)
        else:
            time.sleep(timeout)

    def shutdown(self) -> None:
        for ref in self.refs.values():
            self.ray.cancel(ref, force=True)
        self.refs.clear()


def _ray_run(cmd, env, log_path, timeout):
    gpu_env = os.environ.get('CUDA_VISIBLE_DEVICES')
    if gpu_env is not None:  # Ray's assignment for this task
        env = dict(env, CUDA_VISIBLE_DEVICES=gpu_env)
    return run_command(cmd, env, log_path, timeout)


def build_launcher(kind: str, workers: Optional[int] = None,
                   ray_address: Optional[str] = None,
                   resources: Optional[dict] = None):
    """The launcher ``--launcher`` names, with the search config's
    ``resources``."""
    resources = resources or {}
    if kind == 'local':
        return LocalLauncher(workers or 1, gpus=resources.get('gpus', ()))
    return RayLauncher(ray_address, resources.get('cpus_per_trial', 1),
                       resources.get('gpus_per_trial', 0),
                       max_concurrent=workers)
