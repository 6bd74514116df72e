"""Parameters and FLOPs of a DPC head without building it.

Closed forms matching the modules exactly: ``params`` as
``sum(p.numel())`` (batch-norm affine parameters included, running
statistics not); ``flops`` as mmengine's complexity analysis counts an
inference pass (one per fused multiply-add of a convolution, two per element
of an affine batch norm, one per input element of average pooling, four per
output element of bilinear resizing; ReLU is not counted);
``madds`` the convolutions' multiply-adds alone, the paper's Multiply-Adds.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Optional, Sequence, Tuple

from ..models.utils.cell_spec import CONV1X1, SEP_CONV3X3, Branch


@dataclass(frozen=True)
class Cost:
    params: int
    flops: int
    #: convolution multiply-adds only (the paper's MAdds)
    madds: int = 0
    #: the paper's Table 1 convention: branch conv weights only
    paper_params: int = 0

    def __add__(self, other: 'Cost') -> 'Cost':
        return Cost(self.params + other.params, self.flops + other.flops,
                    self.madds + other.madds,
                    self.paper_params + other.paper_params)

    def to_dict(self) -> dict:
        return asdict(self)


def _conv(cin: int, cout: int, hw: int, k: int = 1, groups: int = 1,
          bn: bool = True, bias: bool = False) -> Cost:
    w = cout * (cin // groups) * k * k
    return Cost(params=w + (2 * cout if bn else 0) + (cout if bias else 0),
                flops=w * hw + (2 * cout * hw if bn else 0),
                madds=w * hw, paper_params=w)


def branch_cost(branch: Branch, cin: int, channels: int, hw: int) -> Cost:
    if branch.op == CONV1X1:
        return _conv(cin, channels, hw)
    if branch.op == SEP_CONV3X3:
        return (_conv(cin, cin, hw, k=3, groups=cin)
                + _conv(cin, channels, hw))
    grid = branch.grid[0] * branch.grid[1]
    conv = _conv(cin, channels, grid)
    pool_and_resize = cin * hw + 4 * channels * hw
    return conv + Cost(0, pool_and_resize)


def cell_cost(cell: Sequence[Branch], in_channels: int,
              feature_size: Tuple[int, int], channels: int = 256) -> Cost:
    """Cost of a :class:`DensePredictionCell` (branches + projection).
    ``paper_params`` counts the branches' conv weights only, as Table 1."""
    hw = feature_size[0] * feature_size[1]
    total = Cost(0, 0)
    for b in cell:
        total += branch_cost(b, in_channels if b.input < 0 else channels,
                             channels, hw)
    proj = _conv(channels * len(cell), channels, hw)
    return total + Cost(proj.params, proj.flops, proj.madds)


def head_cost(cell: Sequence[Branch], in_channels: int,
              feature_size: Tuple[int, int], channels: int = 256,
              num_classes: int = 19, c1_in_channels: int = 0,
              c1_channels: int = 48,
              c1_size: Optional[Tuple[int, int]] = None) -> Cost:
    """Cost of a whole :class:`DPCHead`: cell, optional DeepLabv3+ decoder
    (low-level feature of ``c1_size``) and classifier."""
    total = cell_cost(cell, in_channels, feature_size, channels)
    out_hw = feature_size[0] * feature_size[1]
    if c1_in_channels > 0:
        if c1_size is None:
            raise ValueError('head_cost: c1_size is needed with a decoder')
        out_hw = c1_size[0] * c1_size[1]
        total += Cost(0, 4 * channels * out_hw)  # resize to the c1 size
        mid = channels + c1_channels
        for part in (_conv(c1_in_channels, c1_channels, out_hw),
                     _conv(mid, mid, out_hw, k=3, groups=mid),
                     _conv(mid, channels, out_hw),
                     _conv(channels, channels, out_hw, k=3, groups=channels),
                     _conv(channels, channels, out_hw)):
            total += Cost(part.params, part.flops, part.madds)
    cls = _conv(channels, num_classes, out_hw, bn=False, bias=True)
    return total + Cost(cls.params, cls.flops, cls.madds)
