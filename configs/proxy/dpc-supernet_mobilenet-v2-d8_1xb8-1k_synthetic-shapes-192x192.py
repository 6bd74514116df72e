# One-shot stage on the demo's proxy task where scale matters (192x192
# images, output stride 8, 24x24 feature cells, rates in feature cells, 128
# channels): the supernet of every cell of the paper's space, trained as the
# 128x128 one (see it for the keys).
_base_ = './dpc-proxy_mobilenet-v2-d8_1xb8-1k_synthetic-shapes-192x192.py'
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    decode_head=dict(
        _delete_=True,
        type='DPCSupernetHead',
        num_branches=5,
        sharing='position',
        sample_seed=0,
        sampling='uniform',
        eval_arch=None,
        in_channels=160,
        in_index=0,
        channels=128,
        output_stride=8,
        rate_multiplier=1,
        dropout_ratio=0.1,
        num_classes=5,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))
model_wrapper_cfg = dict(
    type='MMDistributedDataParallel', find_unused_parameters=True)
