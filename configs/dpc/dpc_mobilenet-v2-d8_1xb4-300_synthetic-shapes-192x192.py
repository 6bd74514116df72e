# The embedded demo where scale matters: 192-pixel images at output stride 8
# give 24x24 feature maps. The cell's rates stay in feature cells
# (rate_multiplier=1, not the reference's x2 at output stride 8, which would
# put rates 12-21 past the map), so the space's rates 1-21 span the map as
# the paper's span its 49x49 Cityscapes maps. Head and decoder 128 channels
# wide, batch 4: for one CPU.
_base_ = [
    '../_base_/models/dpc_mobilenet-v2-d16.py',
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
    decode_head=dict(in_channels=160, channels=128, output_stride=8,
                     rate_multiplier=1, c1_in_channels=16, num_classes=5,
                     norm_cfg=norm_cfg),
    auxiliary_head=dict(in_channels=48, channels=64, num_classes=5,
                        norm_cfg=norm_cfg))
env_cfg = dict(cudnn_benchmark=False)
randomness = dict(seed=0)
