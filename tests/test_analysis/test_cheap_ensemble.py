"""tools/analysis/cheap_ensemble.py: a cheap stage's runs averaged, k at a
time, against the proxy; the runs that do not fit are named."""
import json
import re
import subprocess
import sys

import pytest

from mmseg_dpc.analysis.cheap_ensemble import ensemble_fidelity

from ..conftest import REPO, run_tool


def test_an_ensemble_gains_where_runs_err_apart_not_where_they_share():
    truth = list(range(12))

    def swapped(pairs):
        s = list(truth)
        for a, b in pairs:
            s[a], s[b] = s[b], s[a]
        return s
    a = swapped([(0, 1), (4, 5), (8, 9)])   # 3 of 66 pairs wrong
    b = swapped([(2, 3), (6, 7), (10, 11)])  # other 3
    runs = [dict(per_cell=[dict(arch_hash=f'c{c:02d}', proxy=[c, c + .1],
                                **{'one_shot:position': s})
                           for c, s in enumerate(x)]) for x in (a, b, a, a)]
    one, two = ensemble_fidelity(runs[:2], 'one_shot:position', [1, 2])
    assert one.kendall == pytest.approx([60 / 66, 60 / 66])
    # errors apart average out: the swapped pairs tie, nothing is wrong
    assert two.kendall[0] == pytest.approx(60 / (60 * 66) ** 0.5)
    assert two.mean_kendall > one.mean_kendall
    # a shared error (the same ranking twice) gains nothing
    same = ensemble_fidelity(runs[2:], 'one_shot:position', [2])[0]
    assert same.kendall == pytest.approx([60 / 66])
    # groups are disjoint, in the order given: 4 runs make 2 pairs
    pairs = ensemble_fidelity(runs, 'one_shot:position', [2])[0]
    assert len(pairs.kendall) == 2
    assert pairs.runs_used == 4
    assert ensemble_fidelity(runs[:3], 'one_shot:position', [2])[0] \
        .runs_used == 2  # the third run is in no whole pair
    # a missing score (null in the summary: a non-finite one) ranks last,
    # as the search ranks it: cell 0 last undoes its swap with cell 1
    for lost_score in (None, float('nan'), float('-inf')):
        lost = [dict(per_cell=[dict(c, **{'one_shot:position': lost_score})
                               if c['arch_hash'] == 'c00' else c
                               for c in runs[0]['per_cell']])]
        assert ensemble_fidelity(lost, 'one_shot:position', [1])[0] \
            .kendall[0] == pytest.approx(62 / 66)


def test_an_ensemble_of_runs_that_do_not_fit_is_refused_by_name():
    cells = [dict(arch_hash=f'c{c}', proxy=[c, c], **{'one_shot:position': c})
             for c in range(6)]
    run = dict(per_cell=cells)
    other_cells = dict(per_cell=cells[:5] + [dict(cells[5], arch_hash='x')])
    other_proxy = dict(per_cell=cells[:5] + [dict(cells[5], proxy=[0, 0])])
    no_stage = dict(per_cell=[dict(arch_hash=c['arch_hash'], proxy=c['proxy'],
                                   naswot=1.0) for c in cells])
    for runs, stage, sizes, words in (
            ([run, other_cells], 'one_shot:position', [1],
             'run 1 scored other cells than run 0 (2 differ)'),
            ([run, other_proxy], 'one_shot:position', [1],
             'run 1: the proxy mIoU of its cells differ'),
            ([run, no_stage], 'one_shot:position', [1],
             "run 1 has no 'one_shot:position' scores; it has ['naswot']"),
            ([run, run], 'one_shot:position', [0, 3],
             'ensemble sizes [0, 3]: each must be 1..2'),
            ([], 'one_shot:position', [1], 'no runs')):
        with pytest.raises(ValueError, match=re.escape(words)):
            ensemble_fidelity(runs, stage, sizes)


def test_cheap_ensemble_tool_prints_the_table_and_names_bad_input(tmp_path):
    good = tmp_path / 'good'
    good.mkdir()
    (good / 'cheap_fidelity.json').write_text(json.dumps(dict(per_cell=[
        dict(arch_hash=f'c{c}', proxy=[c, c], **{'one_shot:position': c})
        for c in range(6)])))
    reverse = tmp_path / 'reverse.json'
    reverse.write_text(json.dumps(dict(per_cell=[
        dict(arch_hash=f'c{c}', proxy=[c, c], **{'one_shot:position': -c})
        for c in range(6)])))
    out = run_tool('tools/analysis/cheap_ensemble.py', str(good),
                   str(reverse)).stdout
    assert '2 runs of one_shot:position, 6 cells' in out, out
    assert re.search(r'^\| 1 \| 2 \| 2 \| 1\.000, -1\.000 \| 0\.000 \|',
                     out, re.M), out
    bad = subprocess.run(
        [sys.executable, 'tools/analysis/cheap_ensemble.py', str(good),
         str(tmp_path / 'missing.json')], cwd=REPO, capture_output=True,
        text=True)
    assert bad.returncode != 0 and 'missing.json: not a fidelity run' in \
        bad.stderr, bad.stderr
