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
