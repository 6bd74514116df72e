# DPC (released top-1 Cityscapes cell) + DeepLabv3+ decoder on Xception-71
# in TF DeepLab's layout, as the model zoo's xception71_dpc_cityscapes
# checkpoints: timm's xception71 (DeepLab's modified aligned Xception,
# BatchNorm eps 1e-3) with the decoder's low-level feature taken where
# DeepLab takes it (DeepLabXception71), eps 1e-5 in the decoder.
_base_ = './dpc_deeplab-layout.py'
model = dict(
    backbone=dict(type='DeepLabXception71', output_stride=16),
    decode_head=dict(
        in_channels=2048,
        in_index=1,
        c1_in_channels=256,
        c1_channels=48,
        c1_in_index=0))
