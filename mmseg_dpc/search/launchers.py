"""Where trials run: a local pool of processes, or Ray tasks.

Each trial is a separate process (the train tool): a crash, an
out-of-memory kill or a NaN loss ends that trial, never the search. Under
Ray, trials read the feature cache and write the work dir by their paths on
whichever node runs them, so before the first trial
:meth:`RayLauncher.require_shared_paths` asks every node whether it sees
them.
"""
from __future__ import annotations

import hashlib
import os
import os.path as osp
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from .processes import DRIVER_PID, die_with_parent, fork_context


@dataclass
class Finished:
    """Outcome of one trial process. ``error``: why the launcher lost the
    trial, where it knows (its Ray task died)."""
    key: object
    returncode: Optional[int]
    wall_time: float
    timed_out: bool = False
    error: Optional[str] = None

    @property
    def reason(self) -> str:
        """How the trial process ended, in words (for a failed trial)."""
        if self.error:
            return self.error
        rc = self.returncode
        if rc is not None and rc < 0:
            try:
                name = signal.Signals(-rc).name
            except ValueError:
                name = f'signal {-rc}'
            return f'killed by {name} (exit code {rc})'
        return f'exit code {rc}'


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

    def require_shared_paths(self, read: Sequence[str],
                             write_dir: str) -> None:
        """Nothing to check: the trials run on this machine, whose files
        the driver opens itself."""

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


class SharedPathsError(ValueError):
    """A node of the Ray cluster cannot see or write the search's files."""


@dataclass(frozen=True)
class NodeAccess:
    """What one node of the Ray cluster found of the search's files:
    ``problems`` in words (none: the node can run trials)."""
    node_id: str
    ip: str
    problems: Tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class SharedPathsCheck:
    """Every alive node's :class:`NodeAccess` to the files a search reads
    (``read``) and the folder it writes (``write_dir``)."""
    read: Tuple[str, ...]
    write_dir: str
    nodes: Tuple[NodeAccess, ...]

    @property
    def failed(self) -> Tuple[NodeAccess, ...]:
        return tuple(n for n in self.nodes if not n.ok)

    def raise_on_failure(self) -> None:
        """Raise :class:`SharedPathsError` naming each node that cannot
        use the files, and what it could not do."""
        if not self.failed:
            return
        lines = [f'{len(self.failed)} of the {len(self.nodes)} nodes of the '
                 'Ray cluster cannot use the files of this search, so its '
                 'trials would fail there. The feature cache and the work '
                 'dir must be on a file system every node mounts at the '
                 'same path:']
        lines += [f'  node {n.node_id} ({n.ip}): {"; ".join(n.problems)}'
                  for n in self.failed]
        raise SharedPathsError('\n'.join(lines))


def _sha256(path: str) -> str:
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def _digest_or_none(path: str) -> Optional[str]:
    try:
        return _sha256(path)
    except OSError:  # the nodes must read it all the same
        return None


def _why(e: OSError) -> str:
    return f'{type(e).__name__}: {e.strerror or e}'


def _probe_node(expected: Dict[str, Optional[str]], token: str,
                write_dir: str) -> Tuple[str, str, List[str]]:
    """Runs as a Ray task on one node: read each of ``expected`` (path ->
    the driver's sha256 of it, ``None`` where the driver cannot read it),
    the driver's ``token`` file among them, and create and remove a file in
    ``write_dir``; returns the node's id, IP and the problems found."""
    import ray
    node_id = ray.get_runtime_context().get_node_id()
    problems = []
    for path, digest in expected.items():
        try:
            same = _sha256(path) == digest or digest is None
        except OSError as e:
            same, why = False, _why(e)
        else:
            why = 'its content differs'
        if same:
            continue
        if path == token:  # a folder of the same path, but not the same
            problems.append(f'does not see the work dir {write_dir} of '
                            f'this driver (its file {osp.basename(token)}: '
                            f'{why})')
        else:
            problems.append(f'cannot read {path} as this driver reads it '
                            f'({why})')
    probe = f'{token}.{node_id}'
    try:
        with open(probe, 'x') as f:
            f.write(node_id)
        os.remove(probe)
    except OSError as e:
        problems.append(f'cannot write in {write_dir} ({_why(e)})')
    return node_id, ray.util.get_node_ip_address(), problems


class RayLauncher:
    """Each trial as a Ray task with the configured CPUs/GPUs, on the
    cluster at ``address`` (default: ``RAY_ADDRESS``, else a new local
    Ray runtime). Ray assigns the GPUs and sets ``CUDA_VISIBLE_DEVICES``
    for the task; the trial process inherits it. A task is never retried
    by Ray: a trial whose worker dies is FAILED with why, and the search's
    ``max_retries`` decides about it."""

    def __init__(self, address: Optional[str] = None, num_cpus: float = 1,
                 num_gpus: float = 0, max_concurrent: Optional[int] = None,
                 init_kwargs: Optional[dict] = None) -> None:
        import ray
        self.ray = ray
        if not ray.is_initialized():
            kwargs = dict(include_dashboard=False, log_to_driver=False)
            kwargs.update(init_kwargs or {})
            # not Ray's default for None (the cluster `ray start` last
            # started on this machine, if any): what the docs say
            address = address or os.environ.get('RAY_ADDRESS') or 'local'
            ray.init(address=address, **kwargs)
        self.task = ray.remote(_ray_run).options(
            num_cpus=num_cpus, num_gpus=num_gpus, max_retries=0)
        total = ray.cluster_resources().get('CPU', 1)
        self.workers = max_concurrent or max(1, int(total // max(num_cpus,
                                                                 1e-6)))
        self.refs: Dict[object, object] = {}
        self._submitted: Dict[object, float] = {}

    @property
    def free_slots(self) -> int:
        return self.workers - len(self.refs)

    def check_shared_paths(self, read: Sequence[str], write_dir: str,
                           timeout: float = 120.0) -> SharedPathsCheck:
        """One task on each alive node of the cluster (pinned to it) reads
        the files ``read`` and a fresh file this driver writes in
        ``write_dir`` (each must be the very file this driver reads, where
        it reads it: a node's own copy at the same path does not count) and
        creates and removes a file in ``write_dir``. A node whose task does
        not answer within ``timeout`` seconds fails the check."""
        from ray.util.scheduling_strategies import \
            NodeAffinitySchedulingStrategy
        write_dir = osp.abspath(write_dir)
        token = osp.join(write_dir, f'.shared-check-{uuid.uuid4().hex}')
        with open(token, 'w') as f:
            f.write(osp.basename(token))
        try:
            expected = {osp.abspath(p): _digest_or_none(p) for p in read}
            expected[token] = _sha256(token)
            probe = self.ray.remote(num_cpus=0, max_retries=0)(_probe_node)
            nodes = [n for n in self.ray.nodes() if n['Alive']]
            refs = {}
            for node in nodes:  # one task pinned to each node
                pinned = probe.options(
                    scheduling_strategy=NodeAffinitySchedulingStrategy(
                        node['NodeID'], soft=False))
                refs[pinned.remote(expected, token, write_dir)] = node
            self.ray.wait(list(refs), num_returns=len(refs), timeout=timeout)
            found = []
            for ref, node in refs.items():
                ip = node['NodeManagerAddress']
                try:
                    node_id, ip, problems = self.ray.get(ref, timeout=0)
                    if node_id != node['NodeID']:
                        problems.append(f'its check ran on node {node_id}')
                except self.ray.exceptions.GetTimeoutError:
                    self.ray.cancel(ref, force=True)
                    problems = [f'its check did not answer within '
                                f'{timeout:g} s']
                except Exception as e:  # the task failed on that node
                    problems = [f'its check failed: {type(e).__name__}: '
                                f'{str(e).strip().splitlines()[0]}']
                found.append(NodeAccess(node['NodeID'], ip, tuple(problems)))
        finally:
            os.remove(token)
        return SharedPathsCheck(tuple(expected)[:-1], write_dir,
                                tuple(found))

    def require_shared_paths(self, read: Sequence[str],
                             write_dir: str) -> None:
        """:meth:`check_shared_paths`, raising :class:`SharedPathsError`
        naming each node that cannot use them."""
        self.check_shared_paths(read, write_dir).raise_on_failure()

    def submit(self, key, cmd: Sequence[str], log_path: str,
               timeout: Optional[float], env: Optional[dict] = None) -> None:
        env = dict(os.environ if env is None else env)
        self.refs[key] = self.task.remote(list(cmd), env, log_path, timeout)
        self._submitted[key] = time.time()

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
            start = self._submitted.pop(key)
            try:
                rc, wall, timed_out = self.ray.get(ref)
                error = None
            except Exception as e:  # the task itself died (worker, node)
                rc, wall, timed_out = None, time.time() - start, False
                first = (str(e).strip().splitlines() or [''])[0]
                error = (f'its Ray task died ({type(e).__name__}: '
                         f'{first})')
                print(f'[search] the Ray task of trial {key} died: '
                      f'{type(e).__name__}: {first}')
            done.append(Finished(key, rc, wall, timed_out, error))
        return done

    def wait(self, timeout: float) -> None:
        if self.refs:
            self.ray.wait(list(self.refs.values()), num_returns=1,
                          timeout=timeout)
        else:
            time.sleep(timeout)

    def shutdown(self, timeout: float = 30.0) -> None:
        """Cancel the running tasks (their workers are killed, and each
        trial process with its worker), and wait up to ``timeout`` seconds
        until Ray says they ended."""
        refs = list(self.refs.values())
        for ref in refs:
            self.ray.cancel(ref, force=True)
        if refs:
            self.ray.wait(refs, num_returns=len(refs), timeout=timeout)
        self.refs.clear()
        self._submitted.clear()


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
