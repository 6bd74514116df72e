"""A segmentor without a backbone: the decode head trains on cached
backbone features (the paper's proxy task)."""
from __future__ import annotations

from typing import List, Optional

from mmengine.config import ConfigDict
from mmengine.model import BaseModel
from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class CachedFeatureSegmentor(EncoderDecoder):
    """``EncoderDecoder`` whose inputs already are the backbone's features.

    Losses, inference, resizing to the label size and post-processing are
    ``EncoderDecoder``'s own, so a head trained here computes exactly what it
    computes on top of the backbone in the full model, and its weights
    (``decode_head.*``) load into the full model and back.
    """

    def __init__(self,
                 decode_head: dict,
                 auxiliary_head: Optional[dict] = None,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='FeatureDataPreprocessor')
        BaseModel.__init__(self, data_preprocessor=data_preprocessor,
                           init_cfg=init_cfg)
        self._init_decode_head(decode_head)
        self._init_auxiliary_head(auxiliary_head)
        self.train_cfg = ConfigDict(train_cfg or {})
        # features are whole maps: sliding windows do not apply
        self.test_cfg = ConfigDict(test_cfg or dict(mode='whole'))
        if self.test_cfg.get('mode', 'whole') != 'whole':
            raise ValueError('CachedFeatureSegmentor: test_cfg.mode must be '
                             f'"whole", got {self.test_cfg.mode!r}')

    def extract_feat(self, inputs: List[Tensor]) -> List[Tensor]:
        """The cached features are the features."""
        return list(inputs)

    def predict(self, inputs: List[Tensor], data_samples=None):
        if data_samples is None:
            raise ValueError('CachedFeatureSegmentor.predict needs '
                             'data_samples (their img_shape gives the output '
                             'size)')
        return super().predict(inputs, data_samples)
