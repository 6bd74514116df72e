"""The Dense Prediction Cell (Chen et al., NeurIPS 2018) as an ``nn.Module``."""
from __future__ import annotations

from typing import Iterable, List, Optional, Sequence

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule, DepthwiseSeparableConvModule
from mmseg.models.utils import resize

from .atrous_conv import AtrousConv2d
from .cell_spec import (CONV1X1, PAPER_GRIDS, PAPER_RATES, SEP_CONV3X3, Branch,
                        CellLike, parse_cell)

DROPOUT_TYPES = {'element': nn.Dropout, 'channel': nn.Dropout2d}


def cell_dropout(ratio: float, kind: str) -> nn.Module:
    """The dropout on a cell's concatenation: ``kind`` one of
    :data:`DROPOUT_TYPES`, none where ``ratio`` is 0."""
    if kind not in DROPOUT_TYPES:
        raise ValueError(f'DPC: dropout_type must be one of '
                         f'{sorted(DROPOUT_TYPES)}, got {kind!r}')
    return DROPOUT_TYPES[kind](ratio) if ratio > 0 else nn.Identity()


class PyramidPooling(nn.Module):
    """Average pooling to a ``g_h x g_w`` grid, 1x1 conv, bilinear resize back.

    The TF reference pools with a fixed kernel derived from the training crop,
    which ties a cell to one input size; adaptive pooling to the grid gives
    the same result at that size and works at any size.
    """

    def __init__(self, in_channels: int, channels: int, grid: Sequence[int],
                 align_corners: bool = False, **conv_kwargs) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(tuple(grid))
        self.conv = ConvModule(in_channels, channels, 1, **conv_kwargs)
        self.align_corners = align_corners

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return resize(self.conv(self.pool(x)), size=x.shape[2:],
                      mode='bilinear', align_corners=self.align_corners)


class DensePredictionCell(nn.Module):
    """A DAG of branches over a feature map, concatenated and projected.

    Args:
        arch: the cell (JSON path, list of reference-format dicts, or
            :class:`Branch` tuple); validated by :func:`parse_cell`.
        in_channels: channels of the backbone feature F.
        channels: output channels of every branch and of the projection
            (the reference's ``reduction_size``, 256).
        output_stride: stride of F. Rates are defined at 16 and multiplied by
            ``16 // output_stride`` (x2 at output stride 8) as the reference.
        rate_multiplier: set to override ``16 // output_stride``; e.g. 1 at
            output stride 8 keeps the rates in feature cells, for a map too
            small for the doubled rates (the embedded demo's 24x24).
        dropout_ratio: dropout on the concatenation (reference: keep 0.9).
        dropout_type: ``'element'`` drops single activations, as the
            reference's ``slim.dropout`` (no ``noise_shape``) does;
            ``'channel'`` drops whole feature maps (``nn.Dropout2d``).
        conv_cfg: conv layer of every branch; by default the separable
            convs use :class:`AtrousConv2d`, which skips the taps of large
            rates that read only padding on small feature maps (same result,
            less work).
        rates, grids: the allowed values, to validate ``arch`` against.
    """

    def __init__(self,
                 arch: CellLike,
                 in_channels: int,
                 channels: int = 256,
                 output_stride: int = 16,
                 rate_multiplier: Optional[int] = None,
                 dropout_ratio: float = 0.1,
                 dropout_type: str = 'channel',
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = dict(type='BN'),
                 act_cfg: Optional[dict] = dict(type='ReLU'),
                 align_corners: bool = False,
                 rates: Iterable[int] = PAPER_RATES,
                 grids: Iterable[int] = PAPER_GRIDS) -> None:
        super().__init__()
        if output_stride not in (4, 8, 16):
            raise ValueError(f'DPC: output_stride must be 4, 8 or 16, got '
                             f'{output_stride}')
        self.arch = parse_cell(arch, rates, grids)
        if rate_multiplier is not None and (
                not isinstance(rate_multiplier, int) or rate_multiplier < 1):
            raise ValueError(f'DPC: rate_multiplier must be an int >= 1, '
                             f'got {rate_multiplier!r}')
        self.rate_multiplier = rate_multiplier or 16 // output_stride
        conv_kwargs = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                           act_cfg=act_cfg)
        self.branches = nn.ModuleList(
            self._make_branch(b, in_channels if b.input < 0 else channels,
                              channels, align_corners, conv_kwargs)
            for b in self.arch)
        self.dropout = cell_dropout(dropout_ratio, dropout_type)
        self.project = ConvModule(channels * len(self.arch), channels, 1,
                                  **conv_kwargs)

    def _make_branch(self, branch: Branch, in_channels: int, channels: int,
                     align_corners: bool, conv_kwargs: dict) -> nn.Module:
        if branch.op == CONV1X1:
            return ConvModule(in_channels, channels, 1, **conv_kwargs)
        if branch.op == SEP_CONV3X3:
            rate = tuple(r * self.rate_multiplier for r in branch.rate)
            return DepthwiseSeparableConvModule(
                in_channels, channels, 3, padding=rate, dilation=rate,
                **dict(conv_kwargs, conv_cfg=conv_kwargs['conv_cfg']
                       or dict(type=AtrousConv2d)))
        return PyramidPooling(in_channels, channels, branch.grid,
                              align_corners, **conv_kwargs)

    def branch_outputs(self, x: torch.Tensor) -> List[torch.Tensor]:
        """Outputs ``Y_0 .. Y_{B-1}`` of all branches."""
        outs: List[torch.Tensor] = []
        for spec, branch in zip(self.arch, self.branches):
            outs.append(branch(x if spec.input < 0 else outs[spec.input]))
        return outs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(self.dropout(torch.cat(self.branch_outputs(x), 1)))

    def branch_contributions(self) -> torch.Tensor:
        """L1 norm of each branch's slice of the projection weights
        (the paper's analysis of which branches matter)."""
        w = self.project.conv.weight.detach().abs()
        return w.view(w.shape[0], len(self.arch), -1).sum(dim=(0, 2))
