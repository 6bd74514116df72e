# DeepLabv3+ (ASPP, rates 6/12/18 at output stride 16) twin of
# dpc_mobilenet-v2-d16.py: same backbone, decoder and training, only the head differs.
_base_ = './dpc_mobilenet-v2-d16.py'
model = dict(
    decode_head=dict(
        _delete_=True,
        type='DepthwiseSeparableASPPHead',
        in_channels={{_base_.model.decode_head.in_channels}},
        in_index={{_base_.model.decode_head.in_index}},
        channels=256,
        dilations=(1, 6, 12, 18),
        c1_in_channels={{_base_.model.decode_head.c1_in_channels}},
        c1_channels=48,
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg={{_base_.norm_cfg}},
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))
