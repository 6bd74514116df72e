# Modified Xception-71 (timm `xception71` through mmseg's TIMMBackbone) at
# output stride 16 with an FCN auxiliary head: the part shared by the DPC
# and DeepLabv3+ models on it (dpc_xception71-d16.py,
# deeplabv3plus_xception71-d16.py), which add their decode head. The
# paper's backbone is pretrained on ImageNet and COCO; nothing is
# downloaded here, so set `backbone.pretrained=True` or
# `backbone.checkpoint_path` for real training.
norm_cfg = dict(type='SyncBN', requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[127.5, 127.5, 127.5],
    std=[127.5, 127.5, 127.5],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(
        type='TIMMBackbone',
        model_name='xception71',
        features_only=True,
        pretrained=False,
        output_stride=16,
        # strides 4, 16, 16: channels 256, 1024, 2048
        out_indices=(1, 3, 4)),
    auxiliary_head=dict(
        type='FCNHead',
        in_channels=1024,
        in_index=1,
        channels=256,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
