# The demo's DPC model (MobileNetV2 x0.5 at output stride 8, the released
# cell, 128 channels) on the data set of
# _base_/datasets/my_dataset_example.py: its data, crop and classes come
# from there. This is the backbone run of a search (its checkpoint makes the
# feature cache) and the full task its best cells are re-ranked on.
_base_ = [
    '../_base_/models/dpc_mobilenet-v2-x0.5-d8.py',
    '../_base_/datasets/my_dataset_example.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_poly-300.py'
]
data_preprocessor = dict(size={{_base_.crop_size}})
model = dict(
    data_preprocessor=data_preprocessor,
    decode_head=dict(num_classes={{_base_.num_classes}}),
    auxiliary_head=dict(num_classes={{_base_.num_classes}}))
