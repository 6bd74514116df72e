import pytest
import torch
from mmengine.config import ConfigDict
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmengine.structures import PixelData

import mmseg_dpc
from mmseg_dpc.models.utils import TOP1_CITYSCAPES

mmseg_dpc.register_all_modules()  # DPCHead & co. in mmseg's registries

BN = dict(type='BN', requires_grad=True)


def head_cfg(**kw):
    cfg = dict(type='DPCHead', arch=TOP1_CITYSCAPES, in_channels=32,
               in_index=-1, channels=16, num_classes=3, norm_cfg=BN)
    cfg.update(kw)
    return cfg


def test_head_without_decoder():
    head = MODELS.build(head_cfg())
    out = head([torch.randn(2, 32, 9, 11)])
    assert out.shape == (2, 3, 9, 11)


def test_head_with_decoder_uses_low_level_feature():
    head = MODELS.build(head_cfg(in_index=1, c1_in_channels=8,
                                 c1_channels=4, c1_in_index=0))
    out = head([torch.randn(2, 8, 33, 41), torch.randn(2, 32, 9, 11)])
    assert out.shape == (2, 3, 33, 41)


def test_bad_arch_fails_at_build():
    bad = [dict(op='conv', kernel=3, rate=[1, 7], input=-1)]
    with pytest.raises(ValueError, match="branch 0: field 'rate'"):
        MODELS.build(head_cfg(arch=bad))


def _segmentor(decode_head, auxiliary_head=None, type='EncoderDecoder',
               **kw):
    return MODELS.build(ConfigDict(
        type=type,
        data_preprocessor=dict(type='SegDataPreProcessor', size=(64, 64)),
        backbone=dict(type='MobileNetV2', widen_factor=0.25,
                      strides=(1, 2, 2, 2, 1, 1, 1),
                      dilations=(1, 1, 1, 1, 1, 2, 2),
                      out_indices=(1, 2, 4, 6), norm_cfg=BN),
        decode_head=decode_head, auxiliary_head=auxiliary_head,
        train_cfg=dict(), test_cfg=dict(mode='whole'), **kw))


def _batch(n=2, size=64):
    inputs = [torch.randint(0, 255, (3, size, size), dtype=torch.uint8)
              for _ in range(n)]
    samples = []
    for _ in range(n):
        s = SegDataSample()
        s.gt_sem_seg = PixelData(
            data=torch.randint(0, 3, (1, size, size)))
        s.set_metainfo(dict(img_shape=(size, size), ori_shape=(size, size),
                            pad_shape=(size, size), padding_size=[0] * 4))
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def _train_step(model):
    from mmengine.optim import build_optim_wrapper
    wrapper = build_optim_wrapper(
        model, dict(optimizer=dict(type='SGD', lr=0.01)))
    losses = model.train_step(_batch(), wrapper)
    return {k: float(v) for k, v in losses.items()}


def test_with_encoder_decoder_and_auxiliary_fcn_head():
    # MobileNetV2 x0.25: channels 8 (s4), 8 (s8), 24 (s16), 80 (s16)
    model = _segmentor(
        head_cfg(in_channels=80, in_index=3, c1_in_channels=8),
        auxiliary_head=dict(type='FCNHead', in_channels=24, in_index=2,
                            channels=16, num_convs=1, num_classes=3,
                            norm_cfg=BN))
    losses = _train_step(model)
    assert {'decode.loss_ce', 'aux.loss_ce'} <= set(losses)
    model.eval()
    preds = model.test_step(_batch())
    assert preds[0].pred_sem_seg.data.shape == (1, 64, 64)


def test_in_cascade_encoder_decoder():
    model = _segmentor(
        [head_cfg(in_channels=80, in_index=3),
         dict(type='OCRHead', in_channels=80, in_index=3, channels=16,
              ocr_channels=8, num_classes=3, norm_cfg=BN)],
        type='CascadeEncoderDecoder', num_stages=2)
    losses = _train_step(model)
    assert {'decode_0.loss_ce', 'decode_1.loss_ce'} <= set(losses)
    model.eval()
    assert model.test_step(_batch())[0].pred_sem_seg.data.shape == (1, 64, 64)
