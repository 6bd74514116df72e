# The embedded demo where scale matters: 192-pixel images at output stride 8
# give 24x24 feature maps, the cell's rates in feature cells (see
# _base_/models/dpc_mobilenet-v2-x0.5-d8.py). Head and decoder 128 channels
# wide, batch 4: for one CPU.
_base_ = [
    '../_base_/models/dpc_mobilenet-v2-x0.5-d8.py',
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
