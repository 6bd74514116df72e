import os
import os.path as osp
import subprocess
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEMO_CONFIG = osp.join(
    REPO, 'configs/dpc/dpc_mobilenet-v2-d16_1xb8-300_synthetic-shapes-128x128.py')
PROCESSES_MARK = (
    'processes: a multi-driver, kill, interrupt or Ray test (real processes, '
    'signals, a PostgreSQL server or a Ray cluster); the set '
    'tools/misc/stress_tests.sh runs in rounds')


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line('markers', PROCESSES_MARK)


@pytest.fixture(scope='session', autouse=True)
def mmseg_scope():
    """Build components in mmseg's registry scope, as mmseg's configs do."""
    from mmengine.registry import init_default_scope
    init_default_scope('mmseg')


@pytest.fixture(scope='session')
def shapes_root(tmp_path_factory) -> str:
    """A small generated data set in mmseg's layout."""
    from mmseg_dpc.datasets import generate_synthetic_shapes
    root = str(tmp_path_factory.mktemp('synthetic_shapes'))
    generate_synthetic_shapes(root, num_train=16, num_val=8, size=128)
    return root


def run_tool(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run a script with this interpreter from the repo root; fail with its
    output if it fails."""
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    proc = subprocess.run([sys.executable, *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(
            f'{" ".join(args)} exited {proc.returncode}\n'
            f'--- stdout ---\n{proc.stdout[-4000:]}\n'
            f'--- stderr ---\n{proc.stderr[-6000:]}')
    return proc
