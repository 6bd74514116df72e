"""Train + validate + resume through the mmengine Runner, with our tools and
mmseg's own, on a small generated data set."""
import glob
import json
import os.path as osp

import mmseg
import pytest

from ..conftest import DEMO_CONFIG, run_tool


def data_options(root):
    opts = []
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts.append(f'{loader}.dataset.data_root={root}')
    return opts


def runs(work_dir):
    """Logged scalar records of each run in ``work_dir``, oldest run first."""
    out = []
    for path in sorted(glob.glob(osp.join(work_dir,
                                          '*/vis_data/scalars.json'))):
        with open(path) as f:
            out.append([json.loads(line) for line in f])
    return out


def scalars(work_dir):
    """All logged scalar records of all runs in ``work_dir``."""
    return [r for run in runs(work_dir) for r in run]


def train(work_dir, root, iters, *extra, resume=False):
    args = ['tools/train.py', DEMO_CONFIG, '--work-dir', str(work_dir),
            '--cfg-options', f'train_cfg.max_iters={iters}',
            'train_cfg.val_interval=10', 'default_hooks.checkpoint.interval=10',
            'default_hooks.logger.interval=5', *data_options(root), *extra]
    if resume:
        args.append('--resume')
    return run_tool(*args)


@pytest.mark.parametrize('aux', [False, True], ids=['dpc', 'dpc+aux_fcn'])
def test_train_validate_resume(tmp_path, shapes_root, aux):
    extra = [] if aux else ['model.auxiliary_head=None']
    train(tmp_path, shapes_root, 10, *extra)
    assert osp.exists(tmp_path / 'iter_10.pth')
    proc = train(tmp_path, shapes_root, 20, *extra, resume=True)
    log = proc.stdout + proc.stderr
    assert 'resumed epoch: 0, iter: 10' in log
    assert osp.exists(tmp_path / 'iter_20.pth')
    records = scalars(tmp_path)
    val = [r for r in records if 'mIoU' in r]
    assert [r['step'] for r in val] == [10, 20]
    for r in val:
        assert 0.0 <= r['mIoU'] <= 100.0
    print('mIoU after 10 / 20 iterations:', [r['mIoU'] for r in val])
    first, second = runs(tmp_path)
    # the resumed run continued after iteration 10, it did not restart
    assert max(r['step'] for r in first if 'loss' in r) == 10
    resumed_steps = [r['step'] for r in second if 'loss' in r]
    assert min(resumed_steps) > 10 and max(resumed_steps) == 20
    assert all(('aux.loss_ce' in r) == aux for r in records if 'loss' in r)


def test_test_tool_with_tta(tmp_path, shapes_root):
    train(tmp_path, shapes_root, 10, 'model.auxiliary_head=None')
    proc = run_tool('tools/test.py', DEMO_CONFIG,
                    str(tmp_path / 'iter_10.pth'), '--tta', '--work-dir',
                    str(tmp_path / 'test'), '--cfg-options',
                    *data_options(shapes_root), 'model.auxiliary_head=None')
    assert 'mIoU' in proc.stdout + proc.stderr


def test_mmseg_own_train_tool_runs_our_config(tmp_path, shapes_root):
    mmseg_train = osp.join(osp.dirname(mmseg.__file__), '.mim', 'tools',
                           'train.py')
    if not osp.exists(mmseg_train):
        pytest.skip('this mmseg install ships no tools/train.py')
    run_tool(mmseg_train, DEMO_CONFIG, '--work-dir', str(tmp_path),
             '--cfg-options', 'train_cfg.max_iters=4',
             'train_cfg.val_interval=4', 'default_hooks.checkpoint.interval=4',
             *data_options(shapes_root))
    assert osp.exists(tmp_path / 'iter_4.pth')
    assert [r['step'] for r in scalars(tmp_path) if 'mIoU' in r] == [4]


def test_get_flops_reports_model_and_head(tmp_path):
    out = tmp_path / 'flops.json'
    run_tool('tools/analysis/get_flops.py', DEMO_CONFIG, '--shape', '64',
             '64', '--json', str(out))
    res = json.loads(out.read_text())
    assert res['head_type'] == 'DPCHead'
    assert 0 < res['decode_head']['params'] < res['model']['params']
    assert 0 < res['decode_head']['flops'] < res['model']['flops']
