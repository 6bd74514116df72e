"""Xception-71 with the feature taps TF DeepLab uses, on timm's model."""
from __future__ import annotations

from typing import List, Sequence

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmseg.registry import MODELS


@MODELS.register_module()
class DeepLabXception71(BaseModule):
    """timm's ``xception71`` (the modified aligned Xception-71 of DeepLab:
    same blocks, BatchNorm epsilon 1e-3, symmetric padding, slim's atrous
    rule at ``output_stride``) returning the features DeepLab reads.

    The decoder's low-level feature is where DeepLab takes it:
    ``entry_flow/block3/unit_1/xception_module/separable_conv2_pointwise``,
    the output of the stride-2 block's second separable conv *before* the
    ReLU that opens its third (timm's stride-4 ``features_only`` tap is
    after that ReLU, which DeepLab's decoder never sees).

    Args:
        output_stride: 8, 16 or 32.
        out_indices: which of ``(low-level feature, last feature)`` to return.
        pretrained: load timm's ImageNet weights (needs a download).
    """
    low_level_block = 2  # entry_flow/block3

    def __init__(self, output_stride: int = 16,
                 out_indices: Sequence[int] = (0, 1),
                 pretrained: bool = False, init_cfg=None) -> None:
        super().__init__(init_cfg)
        import timm
        self.model = timm.create_model('xception71', pretrained=pretrained,
                                       output_stride=output_stride,
                                       num_classes=0, global_pool='')
        self.out_indices = tuple(out_indices)
        # the tap: separable conv 2 of entry_flow/block3, kept before act3
        # (in place in timm) rectifies it
        self.model.blocks[self.low_level_block].stack.act3 = nn.ReLU(
            inplace=False)

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        x = self.model.stem(x)
        low_level = None
        for i, block in enumerate(self.model.blocks):
            if i == self.low_level_block:
                stack = block.stack
                y = stack.conv2(stack.act2(stack.conv1(stack.act1(x))))
                low_level = y
                x = block._residual(stack.conv3(stack.act3(y)), x)
            else:
                x = block(x)
        outs = (low_level, x)
        return [outs[i] for i in self.out_indices]
