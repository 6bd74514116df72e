# DPC on MobileNetV2 in TF DeepLab's layout (model_variant=mobilenet_v2,
# the top-1 cell, output stride 16, no decoder): a DeepLab checkpoint of
# this model converts with tools/model_converters/deeplab2mmseg.py and is
# evaluated on whole Cityscapes images, as DeepLab does.
_base_ = [
    '../_base_/models/dpc_mobilenet-v2-deeplab-d16.py',
    '../_base_/datasets/cityscapes_deeplab-eval.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_poly-90k.py'
]
model = dict(data_preprocessor=dict(
    size=(769, 769), test_cfg=dict(size=(1025, 2049))))
