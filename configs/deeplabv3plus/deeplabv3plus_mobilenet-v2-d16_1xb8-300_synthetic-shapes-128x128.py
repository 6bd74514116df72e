# ASPP twin of the embedded demo: the same backbone, data and training with
# mmseg's DepthwiseSeparableASPPHead (rates 6/12/18 at OS 16) as decode head.
_base_ = [
    '../_base_/models/deeplabv3plus_mobilenet-v2-d16.py',
    '../_base_/datasets/synthetic_shapes_128x128.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_poly-300.py'
]
crop_size = (128, 128)
norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(widen_factor=0.5, norm_cfg=norm_cfg),
    decode_head=dict(in_channels=160, c1_in_channels=16, num_classes=5,
                     norm_cfg=norm_cfg),
    auxiliary_head=dict(in_channels=48, channels=64, num_classes=5,
                        norm_cfg=norm_cfg))
env_cfg = dict(cudnn_benchmark=False)
randomness = dict(seed=0)
