# The embedded demo's model where scale matters: dpc_mobilenet-v2-x0.5-d16.py
# at output stride 8 (24x24 feature maps on a 192-pixel crop). The cell's
# rates stay in feature cells (rate_multiplier=1, not the reference's x2 at
# output stride 8, which would put rates 12-21 past the map), so the space's
# rates 1-21 span the map as the paper's span its 49x49 Cityscapes maps.
# Head and decoder 128 channels wide, for one CPU.
_base_ = './dpc_mobilenet-v2-x0.5-d16.py'
model = dict(
    backbone=dict(strides=(1, 2, 2, 1, 1, 1, 1),
                  dilations=(1, 1, 1, 2, 2, 4, 4)),
    decode_head=dict(channels=128, output_stride=8, rate_multiplier=1))
