# ASPP twin of dpc_mobilenet-v2-d8_1xb4-300_my-dataset-192x192.py: the same
# backbone, data and training with mmseg's DepthwiseSeparableASPPHead (a
# baseline of the search's verdict).
_base_ = [
    '../_base_/models/deeplabv3plus_mobilenet-v2-x0.5-d8.py',
    '../_base_/datasets/my_dataset_example.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_poly-300.py'
]
data_preprocessor = dict(size={{_base_.crop_size}})
model = dict(
    data_preprocessor=data_preprocessor,
    decode_head=dict(num_classes={{_base_.num_classes}}),
    auxiliary_head=dict(num_classes={{_base_.num_classes}}))
