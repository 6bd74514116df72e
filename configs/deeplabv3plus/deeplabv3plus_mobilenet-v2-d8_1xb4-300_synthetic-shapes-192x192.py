# ASPP twin of the embedded demo where scale matters: the same backbone,
# data and training with mmseg's DepthwiseSeparableASPPHead, its rates
# 6/12/18 in feature cells as the DPC's (see the DPC config), 128 channels
# wide.
_base_ = [
    '../_base_/models/deeplabv3plus_mobilenet-v2-x0.5-d8.py',
    '../_base_/datasets/synthetic_shapes_192x192.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_poly-300.py'
]
data_preprocessor = dict(size={{_base_.crop_size}})
model = dict(
    data_preprocessor=data_preprocessor,
    decode_head=dict(num_classes=5),
    auxiliary_head=dict(num_classes=5))
env_cfg = dict(cudnn_benchmark=False)
randomness = dict(seed=0)
