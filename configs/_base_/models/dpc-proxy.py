# The paper's proxy task: a single DPC (no decoder) trained on cached
# backbone features by CachedFeatureSegmentor. `decode_head.in_index` indexes
# the cached levels (`feature_levels` of the proxy config), not the backbone.
_base_ = './dpc_top1-cityscapes-cell.py'
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    type='CachedFeatureSegmentor',
    data_preprocessor=dict(type='FeatureDataPreprocessor'),
    decode_head=dict(
        type='DPCHead',
        arch={{_base_.dpc_arch}},
        in_channels=320,
        in_index=0,
        channels=256,
        output_stride=16,
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
