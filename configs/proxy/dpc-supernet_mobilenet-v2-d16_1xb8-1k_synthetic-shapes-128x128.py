# One-shot stage on the embedded demo's proxy task: a weight-sharing supernet
# of every cell of the paper's space (5 branches, 81 operations each) trained
# on the proxy's cached features by the same Runner and schedule, one
# sampled cell per iteration: `sampling` 'uniform' over cells (SPOS, Guo et
# al. 2019) or 'fair' (every module equally often, FairNAS). Cells are then
# scored with the inherited weights after re-estimating their BatchNorm
# statistics (mmseg_dpc.search.one_shot). `sharing`: 'position' (one
# separable conv per branch position, its dilation following the sampled
# rate; the default: it ranks cells closer to the proxy) or 'rate_pair' (one
# per rate pair). The Runner's validation measures
# `eval_arch` (None: a fixed seeded cell), a monitor of the training only.
_base_ = './dpc-proxy_mobilenet-v2-d16_1xb8-1k_synthetic-shapes-128x128.py'
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
        channels=256,
        output_stride=16,
        dropout_ratio=0.1,
        num_classes=5,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))
# each step trains one path: the other operations get no gradient
model_wrapper_cfg = dict(
    type='MMDistributedDataParallel', find_unused_parameters=True)
