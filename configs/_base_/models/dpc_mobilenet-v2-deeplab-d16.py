# DPC (released top-1 Cityscapes cell) on MobileNetV2 in TF DeepLab's
# layout: slim's atrous rule and BatchNorm eps 1e-3 (DeepLabMobileNetV2;
# ReLU6), no decoder (DeepLab's MobileNetV2 models have none).
_base_ = './dpc_deeplab-layout.py'
model = dict(
    backbone=dict(
        type='DeepLabMobileNetV2',
        output_stride=16,
        widen_factor=1.,
        out_indices=(6, ),
        norm_cfg=dict(type='SyncBN', eps=1e-3, requires_grad=True)),
    decode_head=dict(in_channels=320, in_index=0))
