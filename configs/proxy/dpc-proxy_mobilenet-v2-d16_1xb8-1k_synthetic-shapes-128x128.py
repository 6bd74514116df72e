# Proxy task of the embedded demo: the DPC alone on cached features of the
# demo model's backbone (MobileNetV2 x0.5, OS 16: 160 channels, 8x8 cells).
# The proxy schedule, shortened to 1K iterations from a learning rate of 0.05.
_base_ = [
    '../_base_/models/dpc-proxy.py', '../_base_/datasets/cached_features.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_proxy-30k.py'
]
feature_source = \
    'configs/dpc/dpc_mobilenet-v2-d16_1xb8-300_synthetic-shapes-128x128.py'
feature_levels = [3]
cache_root = 'work_dirs/feature_cache/synthetic-shapes_mobilenet-v2-d16'
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    decode_head=dict(in_channels=160, num_classes=5, norm_cfg=norm_cfg))
train_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(data_root=cache_root))
val_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(data_root=cache_root))
test_dataloader = val_dataloader
optim_wrapper = dict(optimizer=dict(lr=0.05))
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=1000,
         by_epoch=False)
]
train_cfg = dict(max_iters=1000, val_interval=1000)
default_hooks = dict(logger=dict(interval=100),
                     checkpoint=dict(interval=1000))
env_cfg = dict(cudnn_benchmark=False)
randomness = dict(seed=0)
