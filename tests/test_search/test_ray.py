"""The Ray launcher on a local Ray cluster of two nodes (real Ray, real
trial processes): the check that every node sees the feature cache and the
work dir before the first trial, a trial's training process or its Ray
worker killed, and the driver killed with trials running."""
import json
import os
import os.path as osp
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest
from optuna.trial import TrialState

from ..conftest import REPO
from .test_reliability import alive, with_hook
from .test_search_tool import (assert_exact_and_distinct, complete, load,
                               search_config, trained)

TRAIN_MODULE = 'mmseg_dpc.tools.train'

pytestmark = pytest.mark.processes


def until(condition, what: str, timeout: float = 300, every: float = 0.2):
    """Poll ``condition`` until it returns a true value (returned), or
    fail after ``timeout`` seconds saying ``what`` never happened."""
    deadline = time.time() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.time() > deadline:
            raise AssertionError(f'{what}: not within {timeout:g} s')
        time.sleep(every)


def _cmdline(pid: int) -> list:
    try:
        with open(f'/proc/{pid}/cmdline', 'rb') as f:
            return f.read().decode(errors='replace').split('\0')
    except OSError:
        return []


def _pids():
    return [int(p) for p in os.listdir('/proc') if p.isdigit()]


def trial_processes(work_dir) -> dict:
    """``{trial number: pid}`` of the live training processes of the
    trials in ``work_dir`` (by their command lines)."""
    found = {}
    for pid in _pids():
        cmd = _cmdline(pid)
        if TRAIN_MODULE in cmd and '--work-dir' in cmd and alive(pid):
            trial_dir = cmd[cmd.index('--work-dir') + 1]
            if trial_dir.startswith(str(work_dir) + os.sep):
                found[int(osp.basename(trial_dir).split('-')[0])] = pid
    return found


def parent(pid: int) -> int:
    with open(f'/proc/{pid}/stat') as f:
        return int(f.read().rsplit(')', 1)[1].split()[1])


def with_env(pids, name: str, value: str) -> list:
    """The live ones of ``pids`` whose environment sets ``name=value``."""
    out = []
    for pid in pids:
        try:
            with open(f'/proc/{pid}/environ', 'rb') as f:
                env = f.read().split(b'\0')
        except OSError:
            continue
        if f'{name}={value}'.encode() in env and alive(pid):
            out.append(pid)
    return out


def running_ray_tasks(address: str) -> list:
    """The trial tasks (``_ray_run``) the cluster's state API says run."""
    from ray.util.state import list_tasks
    return [t for t in list_tasks(address=address,
                                  filters=[('state', '=', 'RUNNING')])
            if t.func_or_class_name == '_ray_run']


@pytest.fixture(scope='module')
def ray_tmpdir():
    """Ray's temporary folder for this module's clusters (short: Ray's
    socket paths must fit), so no other Ray runtime of this machine finds
    them, nor they it."""
    path = tempfile.mkdtemp(prefix='ray-', dir='/tmp')
    old = os.environ.get('RAY_TMPDIR')
    os.environ['RAY_TMPDIR'] = path
    yield path
    if old is None:
        del os.environ['RAY_TMPDIR']
    else:
        os.environ['RAY_TMPDIR'] = old
    shutil.rmtree(path, ignore_errors=True)


def start_cluster(nodes: int, dashboard: bool = True):
    """A local cluster of ``nodes`` one-CPU nodes. The kill tests need the
    dashboard (Ray's state API lists the tasks); a cluster started beside
    the module's ``two_nodes`` goes without: its fixed port (8265) is that
    cluster's ("Failed to bind to 127.0.0.1:8265")."""
    from ray.cluster_utils import Cluster
    cluster = Cluster(initialize_head=True,
                      head_node_args=dict(num_cpus=1,
                                          include_dashboard=dashboard))
    for _ in range(nodes - 1):
        cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    return cluster


def alive_nodes(cluster) -> list:
    return [n['NodeID'] for n in cluster.global_state.node_table()
            if n['Alive']]


@pytest.fixture(scope='module')
def two_nodes(ray_tmpdir):
    """A Ray cluster of two nodes of one CPU each on this machine."""
    cluster = start_cluster(2)
    yield cluster
    cluster.shutdown()


def node_ids(cluster) -> list:
    return [cluster.head_node.node_id] + [
        n.node_id for n in cluster.worker_nodes]


# --- the check before the first trial ------------------------------------
def test_every_node_is_checked_and_each_that_cannot_read_is_named(
        two_nodes, feature_cache, tmp_path):
    import ray

    from mmseg_dpc.search.launchers import RayLauncher, SharedPathsError
    manifests = [osp.join(feature_cache, s, 'manifest.json')
                 for s in ('train', 'val')]
    wd = tmp_path / 'work'
    wd.mkdir()
    launcher = RayLauncher(two_nodes.address)
    try:
        check = launcher.check_shared_paths(manifests, str(wd))
        assert sorted(n.node_id for n in check.nodes) == \
            sorted(node_ids(two_nodes))
        assert check.failed == ()
        check.raise_on_failure()
        assert list(wd.iterdir()) == [], 'the check left files'
        # a path no node sees: every node named, with what it missed
        missing = str(tmp_path / 'elsewhere' / 'manifest.json')
        check = launcher.check_shared_paths([*manifests, missing], str(wd))
        assert len(check.failed) == 2
        with pytest.raises(SharedPathsError) as e:
            check.raise_on_failure()
        message = str(e.value)
        assert '2 of the 2 nodes' in message
        for node_id in node_ids(two_nodes):
            assert f'node {node_id} (' in message
        assert message.count(f'cannot read {missing}') == 2
        assert 'FileNotFoundError' in message
        assert manifests[0] not in message  # seen by both
        assert list(wd.iterdir()) == [], 'the check left files'
    finally:
        ray.shutdown()


def _mount_namespaces_work() -> bool:
    probe = tempfile.mkdtemp()
    try:
        return subprocess.run(
            ['unshare', '--mount', '--propagation', 'private', *(
                ['--map-root-user'] if os.geteuid() else []),
             'mount', '-t', 'tmpfs', 'tmpfs', probe],
            capture_output=True).returncode == 0
    except OSError:
        return False
    finally:
        os.rmdir(probe)


def start_node_in_own_mounts(address: str, log: str, hide=(),
                             read_only=()):
    """A Ray node (``ray start``) joining the cluster at ``address``,
    whose processes live in their own mount namespace: each of ``hide``
    an empty folder there, each of ``read_only`` read-only (as on a
    machine that does not mount the shared file system, or mounts it
    read-only). Returns the ``ray start`` process; its output goes to
    ``log``."""
    script = ['set -e']
    script += [f'mount -t tmpfs tmpfs "{p}"' for p in hide]
    script += [f'mount --bind "{p}" "{p}"; mount -o remount,bind,ro "{p}"'
               for p in read_only]
    script.append('exec "$@"')
    ray_cli = osp.join(osp.dirname(sys.executable), 'ray')
    return subprocess.Popen(
        ['unshare', '--mount', '--propagation', 'private', *(
            ['--map-root-user'] if os.geteuid() else []),
         'sh', '-c', '\n'.join(script), 'sh', ray_cli, 'start',
         f'--address={address}', '--num-cpus=1', '--block'],
        stdout=open(log, 'w'), stderr=subprocess.STDOUT,
        start_new_session=True)


def joined_nodes(cluster, node: subprocess.Popen, log: str) -> list:
    """The cluster's alive nodes once ``node`` has joined (polled); fails
    at once, with the node's output, where its ``ray start`` has ended."""
    def joined():
        if node.poll() is not None:
            with open(log) as f:
                raise AssertionError(f'ray start ended ({node.returncode}) '
                                     f'before the node joined:\n'
                                     f'{f.read()[-3000:]}')
        return len(alive_nodes(cluster)) == 2 and alive_nodes(cluster)
    return until(joined, 'the second node joined')


def stop_node(proc: subprocess.Popen) -> None:
    """Stop a node of :func:`start_node_in_own_mounts` and every process
    of its mount namespace."""
    def mounts(pid):
        try:
            return os.readlink(f'/proc/{pid}/ns/mnt')
        except OSError:
            return None
    ns = mounts(proc.pid)
    proc.terminate()
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    left = [p for p in _pids() if ns and mounts(p) == ns]
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    until(lambda: not [p for p in left if alive(p)],
          'the node\'s processes ended', 60)


@pytest.mark.skipif(not _mount_namespaces_work(),
                    reason='needs mount namespaces (unshare --mount) to '
                    'give one node of the cluster other files')
@pytest.mark.parametrize('node', ['without the cache, work dir read-only',
                                  'another work dir'])
def test_a_search_refuses_to_start_naming_the_node_that_cannot(
        ray_tmpdir, feature_cache, shapes_root, tmp_path, node):
    cfg = search_config(tmp_path, feature_cache, shapes_root, num_trials=2)
    wd = tmp_path / 'work'
    wd.mkdir()
    no_cache = node.startswith('without the cache')
    cluster = start_cluster(1, dashboard=False)
    joined = None
    try:
        log = str(tmp_path / 'node.log')
        joined = start_node_in_own_mounts(
            cluster.address, log,
            hide=[feature_cache] if no_cache else [str(wd)],
            read_only=[str(wd)] if no_cache else [])
        nodes = joined_nodes(cluster, joined, log)
        head = cluster.head_node.node_id
        other, = set(nodes) - {head}
        proc = subprocess.run(
            [sys.executable, 'tools/search.py', cfg, '--work-dir', str(wd),
             '--launcher', 'ray', '--ray-address', cluster.address],
            cwd=REPO, capture_output=True, text=True, timeout=600)
    finally:
        if joined is not None:
            stop_node(joined)
        cluster.shutdown()
    assert proc.returncode == 2, proc.stdout[-3000:] + proc.stderr[-3000:]
    err = proc.stderr
    assert '1 of the 2 nodes of the Ray cluster cannot use' in err, err
    assert f'node {other} (' in err and head not in err
    assert 'every node mounts at the same path' in err
    manifest = osp.join(feature_cache, 'train', 'manifest.json')
    if no_cache:
        assert f'cannot read {manifest} as this driver reads it ' \
            '(FileNotFoundError' in err
        assert f'cannot write in {wd} (OSError: Read-only file system)' \
            in err
    else:
        assert 'cannot read' not in err
        assert f'does not see the work dir {wd} of this driver' in err
    # refused before any trial, before the study exists
    assert not (wd / 'study.db').exists()
    assert list((wd / 'trials').iterdir()) == []
    assert not list(wd.glob('.shared-check-*')), 'the check left files'


# --- kills ------------------------------------------------------------------
def start_held_search(tmp_path, feature_cache, shapes_root, monkeypatch,
                      *args, env=None):
    """A search of 2 trials under Ray whose trials wait before training
    while ``tmp_path/hold`` exists; returns the driver, its work dir and
    the hold file."""
    hold = tmp_path / 'hold'
    hold.touch()
    cfg = with_hook(
        search_config(tmp_path, feature_cache, shapes_root, num_trials=2),
        tmp_path, monkeypatch, dict(type='HoldFrom', number=0,
                                    hold=str(hold)))
    wd = tmp_path / 'work'
    driver = subprocess.Popen(
        [sys.executable, 'tools/search.py', cfg, '--work-dir', str(wd),
         '--launcher', 'ray', '--workers', '2', *args], cwd=REPO,
        env=dict(os.environ, PYTHONUNBUFFERED='1', **(env or {})),
        stdout=open(tmp_path / 'driver.log', 'w'), stderr=subprocess.STDOUT)
    return driver, wd, hold


def test_a_killed_trial_process_or_ray_worker_fails_the_trial_and_retries(
        two_nodes, feature_cache, shapes_root, tmp_path, monkeypatch):
    driver, wd, hold = start_held_search(
        tmp_path, feature_cache, shapes_root, monkeypatch,
        '--ray-address', two_nodes.address)
    try:
        procs = until(lambda: len(trial_processes(wd)) == 2
                      and trial_processes(wd), 'two trials started')
        assert set(procs) == {0, 1}
        # trial 0: its training process is killed (out of memory, ...)
        os.kill(procs[0], signal.SIGKILL)
        # trial 1: the Ray worker running it is killed; its training
        # process dies with it
        worker = parent(procs[1])
        assert _cmdline(worker)[0].startswith('ray::_ray_run'), \
            _cmdline(worker)
        os.kill(worker, signal.SIGKILL)
        until(lambda: not alive(procs[1]),
              'the training process died with its Ray worker', 60)

        until(lambda: {t.number for t in trained(load(wd))
                       if t.state == TrialState.FAIL} == {0, 1},
              'both trials FAILED')
        hold.unlink()  # the retries train
        assert driver.wait(600) == 0, (tmp_path / 'driver.log').read_text()
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
    study = load(wd)
    failed = {t.number: t for t in trained(study)
              if t.state == TrialState.FAIL}
    assert set(failed) == {0, 1}
    reasons = {0: 'killed by SIGKILL (exit code -9)',
               1: 'its Ray task died (WorkerCrashedError'}
    for number, reason in reasons.items():
        error = failed[number].user_attrs['error']
        assert error.startswith(reason), error
        result = json.loads(open(osp.join(
            failed[number].user_attrs['trial_dir'], 'result.json')).read())
        assert result['status'] == 'FAILED'
        assert result['error'].startswith(reason)
    # each retried once, with the same cell, and complete
    assert_exact_and_distinct(study, 2)
    retried = {t.system_attrs.get('failed_trial'): t
               for t in complete(study)}
    assert set(retried) == {0, 1}
    for number in (0, 1):
        assert retried[number].user_attrs['arch_hash'] == \
            failed[number].user_attrs['arch_hash']
    assert trial_processes(wd) == {}
    until(lambda: running_ray_tasks(two_nodes.address) == [],
          'no trial task runs on the cluster', 60)


@pytest.mark.parametrize('runtime', ['a cluster', 'its local runtime'])
def test_a_killed_driver_leaves_no_ray_task_and_no_trial_process(
        runtime, ray_tmpdir, request, feature_cache, shapes_root, tmp_path,
        monkeypatch):
    if runtime == 'a cluster':
        cluster = request.getfixturevalue('two_nodes')
        args, env = ('--ray-address', cluster.address), None
    else:  # the driver starts a Ray runtime of its own, and it dies too
        own = tempfile.mkdtemp(prefix='ray-', dir='/tmp')
        args, env = (), dict(RAY_TMPDIR=own)
    driver, wd, hold = start_held_search(
        tmp_path, feature_cache, shapes_root, monkeypatch, *args, env=env)
    try:
        procs = until(lambda: len(trial_processes(wd)) == 2
                      and trial_processes(wd), 'two trials started')
        workers = [parent(pid) for pid in procs.values()]
        if runtime == 'a cluster':
            until(lambda: len(running_ray_tasks(cluster.address)) == 2,
                  'the state API shows the two trial tasks running')
        else:
            runtime_procs = with_env(_pids(), 'RAY_TMPDIR', own)
            assert set(workers) < set(runtime_procs)
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    left = list(procs.values()) + workers
    until(lambda: not [p for p in left if alive(p)],
          'the trial processes and their Ray workers ended', 120)
    assert trial_processes(wd) == {}
    if runtime == 'a cluster':
        until(lambda: running_ray_tasks(cluster.address) == [],
              'no trial task runs on the cluster', 120)
    else:  # Ray's own processes of that runtime end too (its agents last)
        until(lambda: not with_env(runtime_procs, 'RAY_TMPDIR', own),
              'the local Ray runtime ended', 180, every=1)
        shutil.rmtree(own, ignore_errors=True)
    hold.unlink()
