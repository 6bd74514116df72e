# DPC (released top-1 Cityscapes cell) + DeepLabv3+ decoder on Xception-71
# in TF DeepLab's layout, so weights converted from the model zoo's
# xception71_dpc_cityscapes checkpoints (tools/model_converters/
# deeplab2mmseg.py) compute DeepLab's logits: inputs x / 127.5 - 1 (RGB),
# timm's xception71 (DeepLab's modified aligned Xception, BatchNorm eps
# 1e-3) with the decoder's low-level feature taken where DeepLab takes it
# (DeepLabXception71), eps 1e-5 in the DPC and the decoder, bilinear
# resizes with align_corners=True, no auxiliary head.
_base_ = './dpc_top1-cityscapes-cell.py'
norm_cfg = dict(type='SyncBN', requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[127.5, 127.5, 127.5],
    std=[127.5, 127.5, 127.5],
    bgr_to_rgb=True,
    pad_val=0,  # after normalisation: DeepLab pads with the mean pixel
    seg_pad_val=255)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(type='DeepLabXception71', output_stride=16),
    decode_head=dict(
        type='DPCHead',
        arch={{_base_.dpc_arch}},
        in_channels=2048,
        in_index=1,
        channels=256,
        output_stride=16,
        c1_in_channels=256,
        c1_channels=48,
        c1_in_index=0,
        dropout_ratio=0.0,  # DeepLab has none before its logits
        num_classes=19,
        norm_cfg=norm_cfg,
        align_corners=True,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
