# DeepLabv3+ (mmseg's DepthwiseSeparableASPPHead, rates 6/12/18 at output
# stride 16) on mobilenet-v2-d16.py's backbone: the twin of dpc_mobilenet-v2-d16.py,
# only the decode head differs.
_base_ = './mobilenet-v2-d16.py'
model = dict(
    decode_head=dict(
        type='DepthwiseSeparableASPPHead',
        in_channels=320,
        in_index=3,
        channels=256,
        dilations=(1, 6, 12, 18),
        c1_in_channels=24,
        c1_channels=48,
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg={{_base_.norm_cfg}},
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))
