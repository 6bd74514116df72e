# DPC (the released top-1 Cityscapes cell) + DeepLabv3+ decoder on
# mobilenet-v2-d16.py's backbone, as the paper.
_base_ = ['./mobilenet-v2-d16.py', './dpc_top1-cityscapes-cell.py']
model = dict(
    decode_head=dict(
        type='DPCHead',
        arch={{_base_.dpc_arch}},
        in_channels=320,
        in_index=3,
        channels=256,
        output_stride=16,
        c1_in_channels=24,
        c1_channels=48,
        c1_in_index=0,
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg={{_base_.norm_cfg}},
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))
