"""Batches cached features for :class:`CachedFeatureSegmentor`."""
from __future__ import annotations

from typing import Any, Dict

import torch
from mmengine.model import BaseDataPreprocessor
from mmseg.registry import MODELS


@MODELS.register_module()
class FeatureDataPreprocessor(BaseDataPreprocessor):
    """Stacks each feature level into a float tensor on the model's device.

    The features were normalised by the full model's preprocessor before the
    backbone ran, so nothing else is done here.
    """

    def forward(self, data: Dict[str, Any],
                training: bool = False) -> Dict[str, Any]:
        levels = data['inputs']
        inputs = [
            (torch.stack(list(level)) if not torch.is_tensor(level) else
             level).to(self.device, non_blocking=True).float()
            for level in levels
        ]
        samples = data.get('data_samples')
        if samples is not None:
            samples = [s.to(self.device) for s in samples]
        return dict(inputs=inputs, data_samples=samples)
