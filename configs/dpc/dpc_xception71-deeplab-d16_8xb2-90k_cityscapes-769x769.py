# TF DeepLab model zoo `xception71_dpc_cityscapes_trainfine`
# (deeplab_cityscapes_xception71_trainfine_2018_09_08.tar.gz), converted with
#   python tools/model_converters/deeplab2mmseg.py SRC.tar.gz DST.pth
# and evaluated as the model zoo states: output stride 16, one scale, no
# flip (the model zoo reports 80.31% mIoU on Cityscapes val).
_base_ = [
    '../_base_/models/dpc_xception71-deeplab-d16.py',
    '../_base_/datasets/cityscapes_deeplab-eval.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_poly-90k.py'
]
model = dict(data_preprocessor=dict(
    size=(769, 769), test_cfg=dict(size=(1025, 2049))))
