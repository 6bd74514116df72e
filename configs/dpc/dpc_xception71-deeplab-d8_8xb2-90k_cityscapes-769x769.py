# TF DeepLab model zoo `xception71_dpc_cityscapes_trainval`
# (deeplab_cityscapes_xception71_trainvalfine_2018_09_08.tar.gz), converted
# with tools/model_converters/deeplab2mmseg.py, evaluated as the model zoo
# states: output stride 8 (rates doubled), scales 0.75-2.0 and flips
#   python tools/test.py THIS DST.pth --tta
# (the model zoo reports 82.66% on the Cityscapes test server).
_base_ = './dpc_xception71-deeplab-d16_8xb2-90k_cityscapes-769x769.py'
model = dict(
    backbone=dict(output_stride=8),
    decode_head=dict(output_stride=8))
