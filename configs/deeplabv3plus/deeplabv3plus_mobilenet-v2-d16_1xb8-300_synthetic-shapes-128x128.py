# ASPP twin of the embedded demo: the same backbone, data and training with
# mmseg's DepthwiseSeparableASPPHead (rates 6/12/18 at OS 16) as decode head.
_base_ = [
    '../_base_/models/deeplabv3plus_mobilenet-v2-x0.5-d16.py',
    '../_base_/datasets/synthetic_shapes_128x128.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_poly-300.py'
]
data_preprocessor = dict(size={{_base_.crop_size}})
model = dict(
    data_preprocessor=data_preprocessor,
    decode_head=dict(num_classes=5),
    auxiliary_head=dict(num_classes=5))
env_cfg = dict(cudnn_benchmark=False)
randomness = dict(seed=0)
