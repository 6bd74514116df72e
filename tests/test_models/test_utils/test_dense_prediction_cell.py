import pytest
import torch

from mmseg_dpc.models.utils import TOP1_CITYSCAPES, DensePredictionCell

ALL_OPS_CELL = [
    {'op': 'conv', 'kernel': 3, 'rate': [6, 21], 'input': -1},
    {'op': 'pyramid_pooling', 'grid_size': [1, 1], 'input': -1},
    {'op': 'pyramid_pooling', 'grid_size': [2, 8], 'input': 0},
    {'op': 'conv', 'kernel': 1, 'input': 2},
    {'op': 'conv', 'kernel': 3, 'rate': [1, 1], 'input': 3},
]


def n_params(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize('in_channels, expected', [(2048, 1_150_976),
                                                    (320, 689_600)])
def test_released_cell_parameter_count(in_channels, expected):
    cell = DensePredictionCell(TOP1_CITYSCAPES, in_channels)
    assert n_params(cell) == expected


def test_released_cell_paper_weight_count():
    """The paper's convention: branch conv weights only (no BN, no
    projection): 814,080 on Xception, 356,160 on MobileNet-v2."""
    for c, expected in ((2048, 814_080), (320, 356_160)):
        cell = DensePredictionCell(TOP1_CITYSCAPES, c)
        weights = sum(p.numel() for n, p in cell.branches.named_parameters()
                      if n.endswith('conv.weight'))
        assert weights == expected


@pytest.mark.parametrize('output_stride', [8, 16])
@pytest.mark.parametrize('size', [(17, 23), (33, 9)])
def test_every_op_shape_and_gradients(output_stride, size):
    torch.manual_seed(0)
    cell = DensePredictionCell(ALL_OPS_CELL, in_channels=12, channels=16,
                               output_stride=output_stride)
    cell.train()
    x = torch.randn(2, 12, *size)
    out = cell(x)
    assert out.shape == (2, 16, *size)
    out.square().mean().backward()
    for b, branch in enumerate(cell.branches):
        for name, p in branch.named_parameters():
            if name.endswith('weight'):
                assert p.grad is not None and p.grad.abs().sum() > 0, \
                    f'branch {b} {name} got no gradient'


def test_rates_scale_with_output_stride():
    spec = [{'op': 'conv', 'kernel': 3, 'rate': [6, 21], 'input': -1}]
    os16 = DensePredictionCell(spec, 8, 8, output_stride=16)
    os8 = DensePredictionCell(spec, 8, 8, output_stride=8)
    assert os16.branches[0].depthwise_conv.conv.dilation == (6, 21)
    assert os8.branches[0].depthwise_conv.conv.dilation == (12, 42)
    assert os8.branches[0].depthwise_conv.conv.padding == (12, 42)
    with pytest.raises(ValueError, match='output_stride'):
        DensePredictionCell(spec, 8, 8, output_stride=32)
    # rates kept in feature cells at output stride 8 (the embedded demo)
    cells = DensePredictionCell(spec, 8, 8, output_stride=8,
                                rate_multiplier=1)
    assert cells.branches[0].depthwise_conv.conv.dilation == (6, 21)
    with pytest.raises(ValueError, match='rate_multiplier must be'):
        DensePredictionCell(spec, 8, 8, rate_multiplier=0)


def test_the_closed_form_cost_follows_the_rate_multiplier():
    """On a 24x24 map, rate 21 x2 reads only padding beyond its centre
    tap; rate 21 x1 does not: the cost says so as the module skips it."""
    import torch
    from mmengine.analysis import get_model_complexity_info

    from mmseg_dpc.models.utils.cell_spec import parse_cell
    from mmseg_dpc.search.cost import cell_cost
    spec = [{'op': 'conv', 'kernel': 3, 'rate': [21, 21], 'input': -1}]
    flops = {}
    for mult in (1, 2):
        cell = DensePredictionCell(spec, 8, 8, output_stride=8,
                                   rate_multiplier=mult).eval()
        counted = get_model_complexity_info(
            cell, inputs=(torch.zeros(1, 8, 24, 24), ), show_table=False,
            show_arch=False)['flops']
        closed = cell_cost(parse_cell(spec), 8, (24, 24), 8, 8, mult).flops
        assert closed == counted
        flops[mult] = closed
    assert flops[1] > flops[2]


def test_branch_inputs_follow_the_dag():
    """A branch reading branch k sees Y_k, not F: perturbing what branch 0
    outputs changes branch 1 (which reads it) but not branch 2 (reads F)."""
    spec = [{'op': 'conv', 'kernel': 1, 'input': -1},
            {'op': 'conv', 'kernel': 1, 'input': 0},
            {'op': 'conv', 'kernel': 1, 'input': -1}]
    cell = DensePredictionCell(spec, 4, 4).eval()
    x = torch.randn(1, 4, 5, 5)
    before = cell.branch_outputs(x)
    with torch.no_grad():
        cell.branches[0].conv.weight.mul_(3)
    after = cell.branch_outputs(x)
    assert not torch.allclose(before[1], after[1])
    assert torch.allclose(before[2], after[2])


def test_branch_contributions():
    cell = DensePredictionCell(TOP1_CITYSCAPES, 8, 4)
    with torch.no_grad():
        cell.project.conv.weight.zero_()
        cell.project.conv.weight[:, 4:8] = 1  # branch 1's slice
    assert cell.branch_contributions().tolist() == [0, 16, 0, 0, 0]


def test_small_maps_skip_padding_taps_with_the_same_result():
    """Rates past the feature size read only padding; the default cell skips
    those taps (AtrousConv2d) and matches a plain-Conv2d cell exactly."""
    torch.manual_seed(0)
    fast = DensePredictionCell(TOP1_CITYSCAPES, 12, 16).eval()
    plain = DensePredictionCell(TOP1_CITYSCAPES, 12, 16,
                                conv_cfg=dict(type='Conv2d')).eval()
    assert type(fast.branches[1].depthwise_conv.conv).__name__ == \
        'AtrousConv2d'
    assert type(plain.branches[1].depthwise_conv.conv) is torch.nn.Conv2d
    plain.load_state_dict(fast.state_dict())
    for size in ((8, 8), (5, 30), (49, 49)):
        x = torch.randn(2, 12, *size)
        torch.testing.assert_close(fast(x), plain(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('kind, whole_maps', [('element', False),
                                              ('channel', True)])
def test_the_cell_dropout_drops_activations_or_whole_maps(kind, whole_maps):
    """``element`` is the reference's ``slim.dropout`` (single
    activations), ``channel`` drops whole feature maps."""
    torch.manual_seed(0)
    cell = DensePredictionCell(TOP1_CITYSCAPES, 8, channels=16,
                               dropout_ratio=0.5, dropout_type=kind).train()
    out = cell.dropout(torch.ones(2, 80, 6, 6))
    zero = out == 0
    assert zero.any() and not zero.all()
    per_map = zero.flatten(2)
    assert bool((per_map.all(-1) | ~per_map.any(-1)).all()) is whole_maps


def test_an_unknown_dropout_type_is_named():
    with pytest.raises(ValueError, match="dropout_type.*'spatial'"):
        DensePredictionCell(TOP1_CITYSCAPES, 8, dropout_type='spatial')
