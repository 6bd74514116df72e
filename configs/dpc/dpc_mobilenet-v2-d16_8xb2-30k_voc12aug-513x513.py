_base_ = [
    '../_base_/models/dpc_mobilenet-v2-d16.py',
    '../_base_/datasets/pascal_voc12_aug_513x513.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_poly-30k.py'
]
crop_size = (513, 513)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    decode_head=dict(num_classes=21),
    auxiliary_head=dict(num_classes=21))
