import torch

from mmseg_dpc.analysis import (branch_contributions, draw_cell,
                                pareto_front, plot_pareto)
from mmseg_dpc.analysis.cell_graph import layout
from mmseg_dpc.models.utils import TOP1_CITYSCAPES, DensePredictionCell
from mmseg_dpc.models.utils import parse_cell

PNG = b'\x89PNG\r\n\x1a\n'


def test_layout_places_each_branch_right_of_its_input():
    cell = parse_cell(TOP1_CITYSCAPES)
    pos = layout(cell)
    for i, b in enumerate(cell):
        assert pos[i][0] == pos[b.input][0] + 1
    ys = [pos[i][1] for i in range(len(cell))]
    assert len(set(ys)) == len(cell)  # one row per branch
    assert pos[len(cell)][0] > max(pos[i][0] for i in range(len(cell)))


def test_draw_cell_writes_png(tmp_path):
    out = draw_cell(parse_cell(TOP1_CITYSCAPES), str(tmp_path / 'c.png'))
    assert open(out, 'rb').read(8) == PNG


def test_branch_contributions_from_checkpoint(tmp_path):
    cell = DensePredictionCell(TOP1_CITYSCAPES, 8, 4)
    with torch.no_grad():
        cell.project.conv.weight.zero_()
        cell.project.conv.weight[:, 8:12] = -2.0  # branch 2's slice
    state = {f'decode_head.dpc.{k}': v for k, v in cell.state_dict().items()}
    path = tmp_path / 'ckpt.pth'
    torch.save({'state_dict': state}, path)
    c = branch_contributions(str(path))
    assert c['num_branches'] == 5
    assert c['l1'] == [0.0, 0.0, 32.0, 0.0, 0.0]


def test_pareto_front(tmp_path):
    miou = [10, 20, 15, 20, 5]
    flops = [1, 5, 2, 4, 0.5]
    # (10,1) (15,2) (20,4) (5,0.5) are not dominated; (20,5) is by (20,4)
    assert sorted(pareto_front(list(zip(miou, flops)))) == [0, 2, 3, 4]
    out = plot_pareto(miou, flops, str(tmp_path / 'p.png'))
    assert open(out, 'rb').read(8) == PNG


def test_search_report_adds_baselines(tmp_path):
    """``search_report.py --baseline``: a run directory's last mIoU (its
    metrics.json) or a number, in the comparison table; a bad one named."""
    import json
    import subprocess
    import sys

    from mmseg_dpc.search import Architecture
    from ..conftest import REPO
    arch = Architecture(TOP1_CITYSCAPES)
    row = dict(rank=1, trial=0, arch_hash=arch.hash, status='COMPLETE',
               mIoU=30.0, full_mIoU=None, params=10, flops=1000,
               wall_time=1.0, pareto=False, stopped_at=None, error=None,
               arch=arch.to_json(), trial_dir=str(tmp_path / 'none'))
    (tmp_path / 'leaderboard.json').write_text(json.dumps([row]))
    (tmp_path / 'summary.json').write_text(json.dumps(dict(study='s')))
    run = tmp_path / 'aspp_run'
    run.mkdir()
    (run / 'metrics.json').write_text(json.dumps(dict(
        val=[dict(step=10, mIoU=41.234)], nonfinite_loss=None,
        pruned=None)))

    def report(*baselines):
        return subprocess.run(
            [sys.executable, 'tools/analysis/search_report.py',
             str(tmp_path), *[f'--baseline={b}' for b in baselines]],
            cwd=REPO, capture_output=True, text=True, timeout=300)

    proc = report(f'ASPP head={run}', 'released cell=49.5')
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / 'report.md').read_text()
    assert '| ASPP head | 41.23 mIoU |' in text
    assert '| released cell | 49.50 mIoU |' in text
    proc = report('ASPP=/no/such/run')
    assert proc.returncode != 0
    assert "'/no/such/run' is neither a run directory nor a number" in \
        proc.stderr
