"""A dilated convolution that skips the kernel taps reading only padding.

With "same" zero padding (``padding = dilation * (k - 1) // 2``) a tap at
offset ``j * dilation`` from the centre reads a real input pixel only if
``|j| * dilation < size`` along that axis; otherwise it multiplies padding
zeros at every output position. DPC cells use rates up to 21 (42 at output
stride 8) on feature maps that can be smaller (8x8 for a 128-pixel crop at
output stride 16, 9x9 at the edge of a random feature crop), where those
taps are most of the kernel. Leaving them out gives the same output and the
same gradients (a skipped tap's gradient is a sum of ``grad * 0``, so it
stays zero as before) at a fraction of the cost, and lets the backend use
its faster small-kernel path; a rate of 18 on an 8x8 map becomes a
per-channel scale. Parameters and state-dict keys are those of
``nn.Conv2d``.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
import torch.nn as nn
from mmseg.registry import MODELS


def kept_taps(kernel: int, dilation: int, padding, size: int,
              stride: int = 1) -> Tuple[int, int]:
    """Number of kernel taps on each side of the centre that can read a real
    pixel of an axis of ``size``, and the kernel's full half-width.

    Only odd kernels with stride 1 and "same" padding are pruned; anything
    else returns ``(half, half)`` (keep all).
    """
    half = (kernel - 1) // 2
    if (kernel % 2 == 0 or stride != 1 or not isinstance(padding, int)
            or padding != dilation * half):
        return half, half
    return min(half, (size - 1) // dilation), half


@MODELS.register_module()
class AtrousConv2d(nn.Conv2d):
    """``nn.Conv2d`` that leaves out taps which only ever read zero padding.

    Exact: outputs equal ``nn.Conv2d``'s up to float rounding, gradients of
    the kept taps likewise and those of the skipped taps are zero in both.
    """

    def _conv_forward(self, input: torch.Tensor, weight: torch.Tensor,
                      bias: Optional[torch.Tensor]) -> torch.Tensor:
        if self.padding_mode != 'zeros' or isinstance(self.padding, str):
            return super()._conv_forward(input, weight, bias)
        taps, pad, dil = [], [], []
        for axis in (0, 1):
            k, half = kept_taps(self.kernel_size[axis], self.dilation[axis],
                                self.padding[axis], input.shape[2 + axis],
                                self.stride[axis])
            if k == half:  # every tap can read a pixel: keep the axis as is
                taps.append(slice(None))
                pad.append(self.padding[axis])
                dil.append(self.dilation[axis])
            else:
                taps.append(slice(half - k, half + k + 1))
                pad.append(k * self.dilation[axis])
                dil.append(self.dilation[axis] if k else 1)
        if taps[0] == taps[1] == slice(None):
            return super()._conv_forward(input, weight, bias)
        weight = weight[:, :, taps[0], taps[1]]
        return nn.functional.conv2d(input, weight, bias, self.stride,
                                    tuple(pad), tuple(dil), self.groups)
