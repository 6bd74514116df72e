# What TF DeepLab's DPC models compute, shared by the `*-deeplab-*` model
# bases, so weights converted from a DeepLab checkpoint
# (tools/model_converters/deeplab2mmseg.py) give DeepLab's logits: inputs
# x / 127.5 - 1 (RGB), the top-1 cell with BatchNorm eps 1e-5, bilinear
# resizes with align_corners=True, no dropout before the logits, no
# auxiliary head. The backbones (eps 1e-3) are set by the bases.
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
    decode_head=dict(
        type='DPCHead',
        arch={{_base_.dpc_arch}},
        channels=256,
        output_stride=16,
        dropout_ratio=0.0,
        num_classes=19,
        norm_cfg=norm_cfg,
        align_corners=True,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
