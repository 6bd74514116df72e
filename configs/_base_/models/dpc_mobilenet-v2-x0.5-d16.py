# The embedded demo's model at output stride 16 (8x8 feature maps on a
# 128-pixel crop): dpc_mobilenet-v2-d16.py on a MobileNetV2 half as wide
# (160-channel output, 16-channel stride-4 feature for the decoder) with
# BatchNorm, for one device. The heads keep num_classes=19: a config sets it
# (and the data preprocessor's size) from its data set.
_base_ = './dpc_mobilenet-v2-d16.py'
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    backbone=dict(widen_factor=0.5, norm_cfg=norm_cfg),
    decode_head=dict(in_channels=160, c1_in_channels=16, norm_cfg=norm_cfg),
    auxiliary_head=dict(in_channels=48, channels=64, norm_cfg=norm_cfg))
