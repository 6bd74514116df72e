# DPC (released top-1 Cityscapes cell) on MobileNetV2 in TF DeepLab's
# layout, so weights converted from a DeepLab checkpoint
# (tools/model_converters/deeplab2mmseg.py) compute DeepLab's logits:
# inputs x / 127.5 - 1 (RGB), slim's atrous rule and BatchNorm eps 1e-3 in
# the backbone (DeepLabMobileNetV2; ReLU6), eps 1e-5 in the DPC, bilinear
# resizes with align_corners=True, no decoder (DeepLab's MobileNetV2
# models have none), no auxiliary head.
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
    backbone=dict(
        type='DeepLabMobileNetV2',
        output_stride=16,
        widen_factor=1.,
        out_indices=(6, ),
        norm_cfg=dict(type='SyncBN', eps=1e-3, requires_grad=True)),
    decode_head=dict(
        type='DPCHead',
        arch={{_base_.dpc_arch}},
        in_channels=320,
        in_index=0,
        channels=256,
        output_stride=16,
        dropout_ratio=0.0,  # DeepLab has none before its logits
        num_classes=19,
        norm_cfg=norm_cfg,
        align_corners=True,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
