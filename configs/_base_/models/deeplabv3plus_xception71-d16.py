# DeepLabv3+ (mmseg's DepthwiseSeparableASPPHead, rates 6/12/18 at output
# stride 16) on xception71-d16.py's backbone: the twin of dpc_xception71-d16.py,
# only the decode head differs.
_base_ = './xception71-d16.py'
model = dict(
    decode_head=dict(
        type='DepthwiseSeparableASPPHead',
        in_channels=2048,
        in_index=2,
        channels=256,
        dilations=(1, 6, 12, 18),
        c1_in_channels=256,
        c1_channels=48,
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg={{_base_.norm_cfg}},
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))
