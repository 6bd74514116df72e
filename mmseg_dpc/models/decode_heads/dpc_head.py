"""DPC decode head: a Dense Prediction Cell, optionally with the DeepLabv3+
decoder, as a drop-in replacement for mmseg's ASPP heads."""
from __future__ import annotations

from typing import Iterable, List, Optional

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule, DepthwiseSeparableConvModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize
from mmseg.registry import MODELS

from ..utils import PAPER_GRIDS, PAPER_RATES, DensePredictionCell
from ..utils.cell_spec import CellLike


@MODELS.register_module()
class DPCHead(BaseDecodeHead):
    """Dense Prediction Cell head (`Chen et al. 2018
    <https://arxiv.org/abs/1809.04184>`_).

    Args:
        arch: the cell: a path to a reference JSON file, or a list of
            reference-format branch dicts.
        output_stride: stride of the input feature; rates scale with it.
        rate_multiplier: overrides ``16 // output_stride`` (see
            :class:`DensePredictionCell`).
        cell_dropout_ratio: dropout on the concatenated branch outputs.
        cell_dropout_type: ``'element'`` (the reference's) or
            ``'channel'`` (whole maps, ``nn.Dropout2d``).
        c1_in_channels: channels of the low-level feature for the DeepLabv3+
            decoder; 0 disables the decoder.
        c1_channels: channels the low-level feature is reduced to.
        c1_in_index: index of the low-level feature in the backbone outputs.
        rates, grids: allowed rates and grids (the paper's by default).
        **kwargs: :class:`BaseDecodeHead` arguments; ``channels`` is the
            cell's ``reduction_size`` (256 in the paper).
    """

    def __init__(self,
                 arch: CellLike,
                 output_stride: int = 16,
                 rate_multiplier: Optional[int] = None,
                 cell_dropout_ratio: float = 0.1,
                 cell_dropout_type: str = 'channel',
                 c1_in_channels: int = 0,
                 c1_channels: int = 48,
                 c1_in_index: int = 0,
                 rates: Iterable[int] = PAPER_RATES,
                 grids: Iterable[int] = PAPER_GRIDS,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if c1_in_channels < 0:
            raise ValueError(f'c1_in_channels must be >= 0, got '
                             f'{c1_in_channels}')
        self.dpc = DensePredictionCell(
            arch, self.in_channels, self.channels,
            output_stride=output_stride, rate_multiplier=rate_multiplier,
            dropout_ratio=cell_dropout_ratio, dropout_type=cell_dropout_type,
            conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg,
            act_cfg=self.act_cfg, align_corners=self.align_corners,
            rates=rates, grids=grids)
        self.c1_in_index = c1_in_index
        self.c1_bottleneck: Optional[nn.Module] = None
        self.sep_bottleneck: Optional[nn.Module] = None
        if c1_in_channels > 0:
            cfg = dict(norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
            self.c1_bottleneck = ConvModule(
                c1_in_channels, c1_channels, 1, conv_cfg=self.conv_cfg, **cfg)
            self.sep_bottleneck = nn.Sequential(
                DepthwiseSeparableConvModule(
                    self.channels + c1_channels, self.channels, 3, padding=1,
                    **cfg),
                DepthwiseSeparableConvModule(
                    self.channels, self.channels, 3, padding=1, **cfg))

    @property
    def arch(self):
        """The validated cell, a tuple of ``Branch``."""
        return self.dpc.arch

    def _forward_feature(self, inputs: List[torch.Tensor]) -> torch.Tensor:
        output = self.dpc(self._transform_inputs(inputs))
        if self.c1_bottleneck is not None:
            c1 = self.c1_bottleneck(inputs[self.c1_in_index])
            output = resize(output, size=c1.shape[2:], mode='bilinear',
                            align_corners=self.align_corners)
            output = self.sep_bottleneck(torch.cat([output, c1], dim=1))
        return output

    def forward(self, inputs: List[torch.Tensor]) -> torch.Tensor:
        return self.cls_seg(self._forward_feature(inputs))
