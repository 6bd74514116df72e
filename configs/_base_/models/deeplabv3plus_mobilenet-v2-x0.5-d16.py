# ASPP twin of dpc_mobilenet-v2-x0.5-d16.py: the same backbone and auxiliary
# head with mmseg's DepthwiseSeparableASPPHead (rates 6/12/18 at output
# stride 16) as decode head.
_base_ = './deeplabv3plus_mobilenet-v2-d16.py'
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    backbone=dict(widen_factor=0.5, norm_cfg=norm_cfg),
    decode_head=dict(in_channels=160, c1_in_channels=16, norm_cfg=norm_cfg),
    auxiliary_head=dict(in_channels=48, channels=64, norm_cfg=norm_cfg))
