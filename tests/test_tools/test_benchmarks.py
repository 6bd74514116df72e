"""The benchmarks run and print their figures (tiny settings; the numbers
themselves are recorded in the issue notes, not asserted)."""
import os.path as osp
import re
import subprocess
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def run(script, *args):
    out = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'benchmarks', script),
         *args], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_proxy_speed_prints_ratios_and_ceiling():
    out = run('proxy_speed.py', '--iters', '1', '--rounds', '1')
    assert re.search(r'multiply-adds per image: backbone +[\d.]+ M, '
                     r'DPC head +[\d.]+ M', out), out
    ceiling = re.search(r'same backbone\+head: +([\d.]+)x +\(multiply-add '
                        r'ceiling ([\d.]+)x\)', out)
    assert ceiling and float(ceiling.group(2)) > 1, out
    assert re.search(r'cache loading speed-up: +[\d.]+x', out), out


def test_atrous_conv_benchmark_runs():
    out = run('atrous_conv.py', '--cells', '1', '--iters', '1', '--rounds',
              '1')
    assert re.search(r'released +[\d.]+ +[\d.]+ +[\d.]+x', out), out
    assert 'geometric mean speed-up over 2 cells' in out


@pytest.mark.parametrize('strategy', [[], ['--strategy', 'tpe']])
def test_search_overhead_times_admission_by_study_size(strategy):
    out = run('search_overhead.py', '--study-size', '5', '40',
              '--admissions', '3', *strategy)
    for n in (5, 40):
        m = re.search(rf'study of +{n} trials: admission +([\d.]+) ms per '
                      r'trial \(median of 3\), of which +([\d.]+) ms in '
                      r'the sampler', out)
        assert m, out
        admission, sampler = map(float, m.groups())
        assert 0 < sampler <= admission
    assert re.search(r'N = +40: +[\d.]+x the admission time at N = 5', out)


def test_cheap_stage_cost_prints_cells_per_hour_ratios(tmp_path):
    out = run('cheap_stage_cost.py', '--quick', '--scores', 'naswot',
              'params', '--work-dir', str(tmp_path))
    assert re.search(r'proxy \(stand-alone\) +\| +1 \|', out), out
    one_shot = re.search(r'one-shot \(position, supernet 10 it\) +\| +6 \|'
                         r'.*\| +([\d.]+)x$', out, re.M)
    assert one_shot and float(one_shot.group(1)) > 0, out
    for name in ('naswot', 'params'):
        assert re.search(rf'zero-cost {name} +\| +2 \|.*x$', out, re.M), out
    assert 'extrapolated' in out and 'dominates at 6 cells' in out
    assert re.search(r'peak resident memory: this process \(scoring\) '
                     r'[\d,]+ MiB', out), out
    # a re-run trains and scores nothing: the same figures, from the records
    again = run('cheap_stage_cost.py', '--quick', '--scores', 'naswot',
                'params', '--work-dir', str(tmp_path))
    table = [line for line in out.splitlines() if ' | ' in line]
    assert [line for line in again.splitlines() if ' | ' in line] == table
    # its supernet scored under two settings: the reference's own settings
    # again rank exactly as it (scoring is deterministic)
    supernet = str(tmp_path / 'cheap' / 'one_shot-position' / 'supernet')
    knobs = run('one_shot_scoring.py', supernet, '--cells', '5',
                '--reference', '1x8', '--variants', '1x8', '1x4')
    assert re.search(r'^\| 1 x 8 \(reference\) \| [\d.]+ \| 1.00x', knobs,
                     re.M), knobs
    same = re.search(r'^\| 1 x 8 \| [\d.]+ \| [\d.]+x \| (\S+) .*\| (\S+) ',
                     knobs, re.M)
    assert same and same.groups() in (('1.000', '1.000'), ('n/a', 'n/a')), \
        knobs
    assert re.search(r'^\| 1 x 4 \| [\d.]+ \| [\d.]+x \|', knobs, re.M)
    bad = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'benchmarks',
                                  'one_shot_scoring.py'),
         supernet, '--variants', '2y3'], capture_output=True, text=True)
    assert bad.returncode == 2 and "'2y3': a setting is KxV" in bad.stderr
    big = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'benchmarks',
                                  'one_shot_scoring.py'),
         supernet, '--reference', '1x8', '--variants', '1x999'],
        capture_output=True, text=True)
    assert big.returncode == 2 and '1x999: 1 BN batches of' in big.stderr \
        and 'validation maps; the cache holds' in big.stderr, big.stderr


def test_search_efficiency_prefiltered_arms_quick(tmp_path):
    out = run('search_efficiency.py', '--quick', '--seeds', '0', '--arms',
              'none', 'one_shot', 'zero_cost', '--work-dir', str(tmp_path))
    assert 'prefiltered arms: the best 4 of 12 uniform cells by one_shot, '\
        'zero_cost' in out, out
    for arm in ('one_shot', 'zero_cost'):
        # the cheap stage's compute counted, in proxy iterations
        row = re.search(rf'^ +0 \| {arm} +\| +([\d,]+) \|.*\| +0 \| '
                        r'([\d,]+) iterations \(([\d.]+) s x 2 workers / '
                        r'([\d.]+) s an iteration\)$', out, re.M)
        assert row, out
        spent, cheap = (int(g.replace(',', '')) for g in row.groups()[:2])
        assert spent >= 4 * 8 + cheap
        # the cheap stage holds both cores: a second is 2 trial-seconds
        # (within the printed roundings: 0.05 s, 0.0005 s an iteration)
        seconds, per_iter = float(row[3]), float(row[4])
        assert abs(cheap - seconds * 2 / per_iter) <= \
            0.1 / per_iter + 0.01 * cheap + 1, row[0]
        assert re.search(rf'{arm} \(c\) / no-pruning \(a\), per seed: '
                         r'(never|[\d.]+); median', out), out
        assert f'best mIoU lost by {arm}, per seed: ' in out
        assert re.search(rf'^  {arm:<9} [\d.]+$', out, re.M), out
    assert (tmp_path / 'seed0_one-shot' / 'supernet' / 'result.json').exists()
    assert (tmp_path / 'seed0_zero-cost' / 'cheap_scores.jsonl').exists()
