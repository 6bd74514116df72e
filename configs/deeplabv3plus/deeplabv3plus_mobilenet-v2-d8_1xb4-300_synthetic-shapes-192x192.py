# ASPP twin of the embedded demo where scale matters: the same backbone,
# data and training with mmseg's DepthwiseSeparableASPPHead, its rates 6/12/18
# in feature cells as the DPC's (see the DPC config), 128 channels wide.
_base_ = [
    '../_base_/models/deeplabv3plus_mobilenet-v2-d16.py',
    '../_base_/datasets/synthetic_shapes_192x192.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_poly-300.py'
]
crop_size = (192, 192)
norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(widen_factor=0.5, strides=(1, 2, 2, 1, 1, 1, 1),
                  dilations=(1, 1, 1, 2, 2, 4, 4), norm_cfg=norm_cfg),
    decode_head=dict(in_channels=160, channels=128, dilations=(1, 6, 12, 18),
                     c1_in_channels=16, num_classes=5, norm_cfg=norm_cfg),
    auxiliary_head=dict(in_channels=48, channels=64, num_classes=5,
                        norm_cfg=norm_cfg))
env_cfg = dict(cudnn_benchmark=False)
randomness = dict(seed=0)
