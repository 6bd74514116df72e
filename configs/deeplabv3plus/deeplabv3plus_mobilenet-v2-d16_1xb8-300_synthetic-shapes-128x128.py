# ASPP twin of the embedded demo: the same model, data and training with
# mmseg's DepthwiseSeparableASPPHead (rates 6/12/18 at OS 16) as decode head.
_base_ = '../dpc/dpc_mobilenet-v2-d16_1xb8-300_synthetic-shapes-128x128.py'
model = dict(
    decode_head=dict(
        _delete_=True,
        type='DepthwiseSeparableASPPHead',
        in_channels=160,
        in_index=3,
        channels=256,
        dilations=(1, 6, 12, 18),
        c1_in_channels=16,
        c1_channels=48,
        dropout_ratio=0.1,
        num_classes=5,
        norm_cfg={{_base_.norm_cfg}},
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))
