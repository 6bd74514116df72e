"""BN re-estimation changes BN statistics only, to their batch average."""
import pytest
import torch
import torch.nn as nn

from mmseg_dpc.models.utils import (DensePredictionCell,
                                    reestimate_bn_statistics)

from .test_dpc_supernet import CHAINED, randomise_bn


def state(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


def test_only_bn_statistics_change():
    torch.manual_seed(0)
    cell = DensePredictionCell(CHAINED, 12, 8, norm_cfg=dict(type='BN'))
    randomise_bn(cell, 0)
    cell.train()
    before = state(cell)
    batches = [torch.randn(3, 12, 9, 11) * 2 + 1 for _ in range(4)]
    assert reestimate_bn_statistics(cell, batches) == 4
    after = state(cell)
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    stats = {k for k in before
             if k.endswith(('running_mean', 'running_var',
                            'num_batches_tracked'))}
    assert changed == stats  # every statistic re-estimated, nothing else
    assert all(int(after[k]) == 4 for k in stats
               if k.endswith('num_batches_tracked'))
    # modes and momentum are restored
    assert all(m.training for m in cell.modules())
    assert all(m.momentum == 0.1 for m in cell.modules()
               if isinstance(m, nn.BatchNorm2d))


def test_statistics_are_the_average_over_batches_in_train_mode():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4),
                        nn.Dropout(0.5), nn.BatchNorm2d(4))
    net.eval()
    batches = [torch.randn(2, 3, 5, 5) + i for i in range(3)]
    reestimate_bn_statistics(net, batches)
    with torch.no_grad():
        ys = [net[0](b) for b in batches]
    mean = torch.stack([y.mean((0, 2, 3)) for y in ys]).mean(0)
    var = torch.stack([y.var((0, 2, 3), unbiased=True) for y in ys]).mean(0)
    torch.testing.assert_close(net[1].running_mean, mean)
    torch.testing.assert_close(net[1].running_var, var)
    # the second BN saw the first's batch-normalised output, no dropout:
    # mean 0 and variance 1 (up to the unbiased correction) per batch
    torch.testing.assert_close(net[3].running_mean, torch.zeros(4),
                               atol=1e-5, rtol=0)
    n = 2 * 5 * 5
    torch.testing.assert_close(net[3].running_var,
                               torch.full((4, ), n / (n - 1)), atol=1e-3,
                               rtol=0)
    assert not any(m.training for m in net.modules())


def test_same_batches_same_statistics():
    torch.manual_seed(0)
    cell = DensePredictionCell(CHAINED, 12, 8, norm_cfg=dict(type='BN'))
    batches = [torch.randn(3, 12, 9, 11) for _ in range(2)]
    reestimate_bn_statistics(cell, batches)
    first = state(cell)
    for m in cell.modules():  # whatever the statistics were before
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    reestimate_bn_statistics(cell, batches)
    for k, v in state(cell).items():
        if 'running' in k:
            torch.testing.assert_close(v, first[k])


def test_no_batches_is_an_error():
    with pytest.raises(ValueError, match='no batches'):
        reestimate_bn_statistics(nn.BatchNorm2d(2), [])
