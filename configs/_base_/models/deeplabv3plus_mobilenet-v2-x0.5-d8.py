# ASPP twin of dpc_mobilenet-v2-x0.5-d8.py: output stride 8, its rates
# 6/12/18 in feature cells as the DPC's, 128 channels wide.
_base_ = './deeplabv3plus_mobilenet-v2-x0.5-d16.py'
model = dict(
    backbone=dict(strides=(1, 2, 2, 1, 1, 1, 1),
                  dilations=(1, 1, 1, 2, 2, 4, 4)),
    decode_head=dict(channels=128, dilations=(1, 6, 12, 18)))
