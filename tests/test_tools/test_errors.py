"""Bad input to the tools: one line naming what is wrong, no traceback, and
checkpoints that would run code refused by every tool that loads one."""
import os
import subprocess
import sys

import pytest

from ..conftest import DEMO_CONFIG, REPO

SEARCH = f'{REPO}/configs/search/dpc-search_random-30_synthetic-shapes-128x128.py'


def tool(*args):
    return subprocess.run([sys.executable, *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize('args', [
    ['tools/train.py'], ['tools/test.py', 'x.pth'],
    ['tools/cache_features.py', '--out', '/tmp/x'], ['tools/search.py'],
    ['tools/analysis/get_flops.py']], ids=lambda a: a[0].split('/')[-1])
def test_missing_config_is_named(tmp_path, args):
    missing = str(tmp_path / 'no_such_config.py')
    proc = tool(args[0], missing, *args[1:])
    assert proc.returncode != 0
    assert f'error: config file not found: {missing}' in proc.stderr
    assert 'Traceback' not in proc.stderr


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


@pytest.fixture
def checkpoints(tmp_path):
    import torch
    garbage = tmp_path / 'garbage.pth'
    garbage.write_bytes(os.urandom(4096))
    marker = tmp_path / 'code_ran'
    evil = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'meta': _Evil(marker)}, evil)
    return dict(garbage=str(garbage), evil=str(evil), marker=marker)


def test_garbage_checkpoint_is_named(checkpoints, shapes_root):
    proc = tool('tools/test.py', DEMO_CONFIG, checkpoints['garbage'])
    assert proc.returncode != 0
    assert (f'error: {checkpoints["garbage"]} is not a PyTorch checkpoint'
            in proc.stderr)
    assert 'Please file an issue' not in proc.stderr
    assert 'Traceback' not in proc.stderr


@pytest.mark.parametrize('args', [
    ['tools/test.py', DEMO_CONFIG, '{evil}'],
    ['tools/train.py', DEMO_CONFIG, '--cfg-options', 'load_from={evil}'],
    ['tools/cache_features.py', DEMO_CONFIG, '--out', '{tmp}/cache',
     '--checkpoint', '{evil}'],
], ids=['test', 'train-load_from', 'cache_features'])
def test_checkpoint_that_runs_code_is_refused(tmp_path, checkpoints, args):
    args = [a.format(evil=checkpoints['evil'], tmp=tmp_path) for a in args]
    proc = tool(*args)
    assert proc.returncode != 0
    assert 'weights-only loading refuses' in proc.stderr
    assert 'posix.system' in proc.stderr
    assert not checkpoints['marker'].exists(), 'the checkpoint ran code'


def test_search_report_of_a_folder_without_results(tmp_path):
    proc = tool('tools/analysis/search_report.py', str(tmp_path))
    assert proc.returncode != 0
    assert 'error: ' in proc.stderr and 'no complete trial' in proc.stderr
    assert not (tmp_path / 'report').exists()
