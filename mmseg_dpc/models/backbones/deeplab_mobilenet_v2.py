"""MobileNetV2 as TF DeepLab (slim) dilates it, so converted DeepLab weights
compute DeepLab's features."""
from __future__ import annotations

from typing import List, Tuple

import torch

from mmseg.models.backbones import MobileNetV2
from mmseg.registry import MODELS


@MODELS.register_module()
class DeepLabMobileNetV2(MobileNetV2):
    """mmseg's ``MobileNetV2`` with slim's atrous rule and DeepLab's
    BatchNorm epsilon (1e-3); ReLU6, as both use.

    slim reaches ``output_stride`` and then, for every later block, drops
    its stride and dilates by the strides dropped *before* it: the block
    whose stride is dropped keeps rate 1 and the blocks after it get rate
    2 (at output stride 16: 160-channel blocks 1, 2, 2 and the 320-channel
    block 2). mmseg's ``dilations`` dilate only the first block of a stage
    (2, 1, 1 and 2), which computes other features.

    Args:
        output_stride: 8, 16 or 32.
        **kwargs: :class:`mmseg.models.backbones.MobileNetV2` arguments
            (``strides`` and ``dilations`` are set from ``output_stride``).
    """

    def __init__(self, output_stride: int = 16, **kwargs) -> None:
        if output_stride not in (8, 16, 32):
            raise ValueError(f'output_stride must be 8, 16 or 32, got '
                             f'{output_stride}')
        for key in ('strides', 'dilations'):
            if key in kwargs:
                raise ValueError(f'{key} follows from output_stride here')
        kwargs.setdefault('norm_cfg', dict(type='BN', eps=1e-3))
        super().__init__(**kwargs)  # mmseg's default strides: 2 ... 32
        self.output_stride = output_stride
        self._dilate(output_stride)

    def _dilate(self, output_stride: int) -> None:
        current, rate = 2, 1  # after the stem
        for i, (_, _, num_blocks) in enumerate(self.arch_settings):
            stride = self.strides[i]
            layer = getattr(self, self.layers[i])
            for j in range(num_blocks):
                block_stride = stride if j == 0 else 1
                if current == output_stride:
                    block_rate, rate = rate, rate * block_stride
                    block_stride = 1
                else:
                    block_rate = 1
                    current *= block_stride
                depthwise = layer[j].conv[-2].conv
                depthwise.stride = (block_stride, block_stride)
                depthwise.dilation = (block_rate, block_rate)
                depthwise.padding = (block_rate, block_rate)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """The ``out_indices`` features, always as a tuple (mmseg's returns
        a lone tensor for one index, which a decode head would index)."""
        out = super().forward(x)
        return out if isinstance(out, tuple) else (out, )

    def block_rates(self) -> List[List[int]]:
        """Dilation of each block's depthwise conv, by stage."""
        return [[block.conv[-2].conv.dilation[0]
                 for block in getattr(self, name)] for name in self.layers]
