"""A path of the DPC supernet computes what a stand-alone cell computes."""
from collections import Counter

import pytest
import torch

from mmseg_dpc.models.utils import (DensePredictionCell, DPCSupernet,
                                    TOP1_CITYSCAPES, parse_cell)
from mmseg_dpc.models.utils.cell_spec import (CONV1X1, PYRAMID_POOLING,
                                              SEP_CONV3X3)

BN = dict(type='BN')
# pyramid pooling, a chain (3 <- 2 <- 1 <- 0) and a 1x1 conv
CHAINED = [
    dict(op='pyramid_pooling', grid_size=[2, 4], input=-1),
    dict(op='conv', kernel=3, rate=[21, 3], input=0),
    dict(op='conv', kernel=3, rate=[6, 1], input=1),
    dict(op='pyramid_pooling', grid_size=[1, 1], input=2),
    dict(op='conv', kernel=1, input=-1),
]


def randomise_bn(module, seed):
    g = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.rand(m.num_features, generator=g) - .5)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + .5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + .5)
            m.bias.data.copy_(torch.rand(m.num_features, generator=g) - .5)


def supernet(sharing, **kw):
    torch.manual_seed(0)
    net = DPCSupernet(12, 8, sharing=sharing, norm_cfg=BN, **kw)
    randomise_bn(net, 1)
    return net.eval()


def cells(net):
    found = [parse_cell(TOP1_CITYSCAPES), parse_cell(CHAINED)]
    found += [net.sample(seed=3, iteration=i) for i in range(6)]
    ops = {b.op for c in found for b in c}
    assert ops == {CONV1X1, SEP_CONV3X3, PYRAMID_POOLING}
    assert any(b.input >= 0 for c in found for b in c)
    return found


@pytest.mark.parametrize('sharing', ['rate_pair', 'position'])
def test_path_equals_stand_alone_cell(sharing):
    net = supernet(sharing)
    x = torch.randn(2, 12, 9, 11)
    for cell in cells(net):
        alone = DensePredictionCell(cell, 12, 8, norm_cfg=BN).eval()
        alone.load_state_dict(net.path_state_dict(cell), strict=True)
        with torch.no_grad():
            torch.testing.assert_close(net(x, cell), alone(x), rtol=1e-5,
                                       atol=1e-6)


@pytest.mark.parametrize('sharing', ['rate_pair', 'position'])
def test_path_equals_stand_alone_cell_at_output_stride_8(sharing):
    x = torch.randn(2, 12, 20, 17)
    cell = [dict(op='conv', kernel=3, rate=[1, 6], input=-1),
            dict(op='conv', kernel=3, rate=[3, 1], input=0)]
    net = DPCSupernet(12, 8, num_branches=2, rates=(1, 3, 6), sharing=sharing,
                      output_stride=8, norm_cfg=BN).eval()
    randomise_bn(net, 2)
    alone = DensePredictionCell(cell, 12, 8, output_stride=8,
                                rates=(1, 3, 6), norm_cfg=BN).eval()
    alone.load_state_dict(net.path_state_dict(cell))
    with torch.no_grad():
        torch.testing.assert_close(net(x, cell), alone(x))


def test_sharing_granularity_of_separable_convs():
    a = [dict(op='conv', kernel=3, rate=[1, 6], input=-1)]
    b = [dict(op='conv', kernel=3, rate=[18, 3], input=-1)]
    key = 'branches.0.pointwise_conv.conv.weight'
    shared = DPCSupernet(12, 8, num_branches=1, sharing='position')
    assert torch.equal(shared.path_state_dict(a)[key],
                       shared.path_state_dict(b)[key])
    per_pair = DPCSupernet(12, 8, num_branches=1, sharing='rate_pair')
    assert not torch.equal(per_pair.path_state_dict(a)[key],
                           per_pair.path_state_dict(b)[key])
    # one separable conv per rate pair (64) against one per position
    n = sum(p.numel() for p in per_pair.parameters())
    m = sum(p.numel() for p in shared.parameters())
    sep = sum(p.numel() for p in shared.branches[0]['feature']['sep']
              .parameters())
    assert n - m == 63 * sep


def test_inputs_of_either_kind_have_their_own_modules():
    net = DPCSupernet(12, 8, num_branches=2)
    assert set(net.branches[0]) == {'feature'}
    assert set(net.branches[1]) == {'feature', 'branch'}
    assert net.num_ops == 81
    conv = net.branches[1]['branch']['conv1x1'].conv
    assert conv.in_channels == 8
    assert net.branches[1]['feature']['conv1x1'].conv.in_channels == 12


def test_projection_by_parts_sums_to_the_projection():
    net = supernet('rate_pair')
    x = torch.randn(2, 12, 9, 11)
    cell = parse_cell(CHAINED)
    with torch.no_grad():
        outs = net.branch_outputs(x, cell)
        parts = sum(net.project_part(i, y) for i, y in enumerate(outs))
        torch.testing.assert_close(net.project_finish(parts), net(x, cell),
                                   rtol=1e-5, atol=1e-6)


def test_samples_are_uniform_seeded_and_from_the_pair_alone():
    net = DPCSupernet(12, 8, num_branches=5)
    first = [net.sample(0, i) for i in range(400)]
    assert first == [net.sample(0, i) for i in range(400)]
    assert net.sample(0, 7) == first[7]
    assert [net.sample(1, i) for i in range(20)] != first[:20]
    assert len(set(first)) == 400
    # branch 4 reads each of its 5 inputs about equally often
    inputs = [c[4].input for c in first]
    assert all(40 <= inputs.count(k) <= 120 for k in range(-1, 4))
    ops = {b.op for c in first for b in c}
    assert ops == {CONV1X1, SEP_CONV3X3, PYRAMID_POOLING}


def module_counts(net, cells, position):
    """How often each module of ``position`` is on the cells' paths (all
    its modules, unused ones at 0)."""
    counts = Counter({id(m): 0 for kinds in net.branches[position].values()
                      for m in kinds.values()})
    counts.update(id(net.branch_module(position, c[position]))
                  for c in cells)
    return counts


def module_sequence(net, cells, position):
    """The index (in ``position``'s own module order) of the module each
    cell puts on the path there: comparable across positions 1..n-1,
    which hold the same modules."""
    index = {id(m): k for k, m in enumerate(
        m for kinds in net.branches[position].values()
        for m in kinds.values())}
    return [index[id(net.branch_module(position, c[position]))]
            for c in cells]


@pytest.mark.parametrize('sharing', ['rate_pair', 'position'])
def test_fair_sampling_trains_every_module_equally_often(sharing):
    net = DPCSupernet(12, 8, num_branches=4, rates=(1, 6, 12),
                      grids=(1, 2), sharing=sharing)
    # position 0 reads F only (1x1, the separable conv(s), 4 grids); the
    # others read either kind, so twice as many modules
    per_kind = 1 + (1 if sharing == 'position' else 9) + 4
    assert net.fair_window == 2 * per_kind
    sequences = []
    for window in range(3):
        steps = range(window * net.fair_window,
                      (window + 1) * net.fair_window)
        cells = [net.sample(7, t, 'fair') for t in steps]
        for i in range(4):
            counts = module_counts(net, cells, i)
            assert set(counts.values()) == {net.fair_window // len(counts)}
        sequences.append([module_sequence(net, cells, i)
                          for i in range(4)])
    for c in cells:
        assert net.check_arch(c) == c
    # each window and each position has an order of its own
    assert sequences[0][3] != sequences[1][3] != sequences[2][3]
    assert sequences[0][1] != sequences[0][2] != sequences[0][3]
    # the ops a shared module computes, and the earlier branch a branch
    # input reads, are drawn over all of them
    many = [net.sample(7, t, 'fair') for t in range(20 * net.fair_window)]
    assert {c[3].input for c in many} == {-1, 0, 1, 2}
    if sharing == 'position':
        assert {b.rate for c in many for b in c
                if b.op == SEP_CONV3X3} == {(r, s) for r in (1, 6, 12)
                                            for s in (1, 6, 12)}
    # seeded, from the pair alone (another net, another order of calls)
    again = DPCSupernet(12, 8, num_branches=4, rates=(1, 6, 12),
                        grids=(1, 2), sharing=sharing)
    assert ([again.sample(7, t, 'fair') for t in reversed(steps)]
            == cells[::-1])
    assert ([net.sample(8, t, 'fair') for t in range(12)]
            != [net.sample(7, t, 'fair') for t in range(12)])
    # the window before iteration 0 (iteration -1 is a default cell)
    before = [net.sample(7, t, 'fair') for t in range(-net.fair_window, 0)]
    for i in range(4):
        counts = module_counts(net, before, i)
        assert set(counts.values()) == {net.fair_window // len(counts)}
    # uniform sampling over the same steps is not fair
    uniform = [net.sample(7, t) for t in range(net.fair_window)]
    assert any(len(set(module_counts(net, uniform, i).values())) > 1
               for i in range(4))
    with pytest.raises(ValueError, match="sampling must be one of "
                       r"\['uniform', 'fair'\], got 'fairest'"):
        net.sample(7, 0, 'fairest')


def test_fair_sampling_of_a_one_branch_pooling_space():
    net = DPCSupernet(12, 8, num_branches=1, grids=(1, 2),
                      ops=['pyramid_pooling'])
    assert net.fair_window == 4
    cells = [net.sample(0, t, 'fair') for t in range(8)]
    assert sorted(c[0].grid for c in cells[:4]) == sorted(
        c[0].grid for c in cells[4:]) == [(1, 1), (1, 2), (2, 1), (2, 2)]


def test_cells_outside_the_space_are_named():
    net = DPCSupernet(12, 8, num_branches=5, rates=(1, 6))
    with pytest.raises(ValueError, match='4 branches, the supernet 5'):
        net.check_arch([dict(op='conv', kernel=1, input=-1)] * 4)
    with pytest.raises(ValueError, match="branch 1: field 'rate'"):
        net.check_arch(TOP1_CITYSCAPES)
    pool_only = DPCSupernet(12, 8, num_branches=1, ops=['pyramid_pooling'])
    with pytest.raises(ValueError, match="branch 0: field 'op'"):
        pool_only.check_arch([dict(op='conv', kernel=1, input=-1)])
    with pytest.raises(ValueError, match='sharing'):
        DPCSupernet(12, 8, sharing='per_rate')


def test_checkpoint_of_another_space_is_refused():
    a = DPCSupernet(12, 8, num_branches=2, rates=(1, 3))
    b = DPCSupernet(12, 8, num_branches=2, rates=(1, 3))
    b.load_state_dict(a.state_dict())
    for other in (DPCSupernet(12, 8, num_branches=2, rates=(1, 3),
                              sharing='rate_pair'),
                  DPCSupernet(12, 8, num_branches=2, rates=(1, 6)),
                  DPCSupernet(12, 8, num_branches=2, rates=(1, 3),
                              rate_multiplier=2)):
        diff = other.space.differences(a.space)
        assert len(diff) == 1
        field = diff[0].split()[0]
        with pytest.raises(ValueError, match=f'another space.*{field}'):
            other.load_state_dict(a.state_dict(), strict=False)
