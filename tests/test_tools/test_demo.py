"""The main job end to end at a reduced size: every artefact exists and is
consistent."""
import json
import os.path as osp
import re

from mmengine.config import Config

from ..conftest import run_tool

PNG_MAGIC = b'\x89PNG\r\n\x1a\n'


def test_demo_quick_end_to_end(tmp_path):
    wd = tmp_path / 'demo'
    proc = run_tool('tools/demo.py', '--quick', '--work-dir', str(wd),
                    timeout=900)
    out = proc.stdout
    assert '[demo] report:' in out and '[demo] leaderboard:' in out
    # the demo's own lines only: third-party warnings are in the logs
    assert [line for line in (out + proc.stderr).splitlines()
            if not line.startswith('[demo]')] == []
    # the expected time first, then the search's live progress
    assert out.splitlines()[0].startswith('[demo] expected time: about ')
    assert re.search(r'^\[demo\]   \[search\] 4/4 done, .* \| elapsed ', out,
                     re.M), out
    assert re.search(r'^\[demo\]   \[rerank\] proxy vs full, 2 '
                     'architectures', out, re.M), out

    search = wd / 'search'
    board = json.loads((search / 'leaderboard.json').read_text())
    done = [r for r in board if r['status'] == 'COMPLETE']
    assert len(done) == 4
    for r in done:  # every trial: a loadable standalone config + result
        cfg = Config.fromfile(osp.join(r['trial_dir'], 'config.py'))
        assert cfg.model.decode_head.type == 'DPCHead'
        assert cfg.arch_hash == r['arch_hash']
        assert 'dpc_arch' not in cfg  # only the trial's own cell
        res = json.loads(open(osp.join(r['trial_dir'],
                                       'result.json')).read())
        assert res['metrics']['mIoU'] == r['mIoU']
        # validated once, but its training loss makes a learning curve
        metrics = json.loads(open(osp.join(r['trial_dir'],
                                           'metrics.json')).read())
        assert len(metrics['train']) >= 2

    rerank = json.loads((search / 'rerank.json').read_text())
    assert rerank['n'] == 2
    assert [t['trial'] for t in rerank['trials']] == \
        [r['trial'] for r in done[:2]]
    for t in rerank['trials']:
        cfg = Config.fromfile(str(search / 'rerank' / osp.basename(
            next(r['trial_dir'] for r in done if r['trial'] == t['trial']))
            / 'config.py'))
        # the backbone of the brief training, nothing of its cell
        assert cfg.get('load_from') is None
        init = cfg.model.backbone.init_cfg
        assert init.type == 'Pretrained' and init.prefix == 'backbone.'
        assert init.checkpoint.endswith('iter_10.pth')
        assert 'dpc_arch' not in cfg  # only the trial's own cell
    report = (search / 'report.md').read_text()
    images = re.findall(r'!\[[^\]]*\]\(([^)]+)\)', report)
    assert {'report/best_cell.png', 'report/worst_cell.png',
            'report/best_contributions.png', 'report/progress.png',
            'report/pareto.png', 'report/proxy_vs_full.png'} <= set(images)
    for img in images:
        data = (search / img).read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 1000, img
    assert done[0]['arch_hash'] in report
    assert 'report/learning_curves.png' in images
    # the cell handed on to the verdict is the one drawn, its stage named
    selected = max(rerank['trials'], key=lambda t: t['full_mIoU'])
    assert (f'Cell {selected["arch_hash"]} (trial {selected["trial"]}) '
            'was selected by the re-ranking') in report

    # the verdict: the searched cell and ASPP x 2 seeds, each from the
    # step-2 backbone only
    result = json.loads((wd / 'demo_result.json').read_text())
    verdicts = result['verdicts']
    assert verdicts['seeds'] == [1, 2]
    names = [m['name'] for m in verdicts['models']]
    assert names[1:] == ['mmseg ASPP head']
    best = max((t for t in rerank['trials']), key=lambda t: t['full_mIoU'])
    assert names[0] == f'searched cell {best["arch_hash"]}'
    for m in verdicts['models']:
        assert len(m['mIoU']) == 2 and m['head_flops'] > 0
        for run in m['runs']:
            cfg = Config.fromfile(osp.join(run, 'config.py'))
            assert cfg.get('load_from') is None
            assert cfg.model.backbone.init_cfg.checkpoint.endswith(
                'iter_10.pth')
    aspp = verdicts['models'][1]
    assert aspp['head_type'] == 'DepthwiseSeparableASPPHead'
    assert '## Verdict over seeds' in report
    assert f'{aspp["mean"]:.2f} +- {aspp["std"]:.2f} (2)' in report
    lines = out.splitlines()
    at = lines.index(next(l for l in lines if 'the verdict on the full'
                          in l))
    assert lines[at + 1].startswith(f'[demo]   {names[0]}: ')
    assert any('vs mmseg ASPP head: ' in l for l in lines[at:])
    assert result['wall_time_s'] > 0


def test_demo_fidelity_quick(tmp_path):
    """``make fidelity`` at a reduced size: the demo's data, backbone and
    cache, then the proxy fidelity study on its proxy and full task."""
    wd = tmp_path / 'demo'
    out = run_tool('tools/demo.py', '--quick', '--fidelity', '--work-dir',
                   str(wd), timeout=900).stdout
    assert out.splitlines()[0].startswith('[demo] expected time: about ')
    assert re.search(r'^\[demo\]   \[fidelity\] Spearman .* \[95% CI ', out,
                     re.M), out
    result = json.loads((wd / 'fidelity' / 'fidelity.json').read_text())
    assert result['cells'] == 3 and result['seeds'] == 2
    for c in result['per_cell']:
        cfg = Config.fromfile(str(wd / 'fidelity' / 'full' /
                                  f'{c["arch_hash"]}-s0' / 'config.py'))
        init = cfg.model.backbone.init_cfg  # as the demo's re-ranking
        assert init.checkpoint.endswith('iter_10.pth')
    assert not (wd / 'search').exists()


def test_demo_step_logs_are_complete_while_the_step_runs(tmp_path):
    """Each line a step prints is in its log as soon as it is printed: the
    step here prints 50 lines, then waits for a file the test creates only
    after it has read all of them in the log, so it reads them while the
    step still runs."""
    import sys
    import threading
    import time

    from mmseg_dpc.tools.demo import run_command
    log, release = tmp_path / 'step.log', tmp_path / 'release'
    child = ('import os, time\n'
             'for i in range(50):\n'
             '    print(f"line {i}")\n'
             f'while not os.path.exists({str(release)!r}):\n'
             '    time.sleep(0.05)\n'
             'print("end")\n')
    step = threading.Thread(target=run_command, args=(
        'a step', [sys.executable, '-c', child], str(log)))
    step.start()
    want = [f'line {i}' for i in range(50)]
    deadline, lines = time.time() + 120, []
    while lines != want and time.time() < deadline:
        time.sleep(0.05)
        lines = log.read_text().splitlines() if log.exists() else []
    try:
        assert lines == want
        assert step.is_alive()  # it waits for the file: it has not ended
    finally:
        release.touch()
        step.join(60)
    assert log.read_text().splitlines() == want + ['end']
