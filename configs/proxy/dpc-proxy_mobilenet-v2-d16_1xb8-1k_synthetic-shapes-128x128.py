# Proxy task of the embedded demo: the DPC alone on cached features of the
# demo model's backbone (MobileNetV2 x0.5, OS 16: 160 channels, 8x8 cells).
# The proxy schedule, shortened to 1K iterations from a learning rate of 0.05.
_base_ = [
    '../_base_/models/dpc-proxy_mobilenet-v2-x0.5-d16.py',
    '../_base_/datasets/cached_features.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_proxy-1k.py'
]
feature_source = \
    'configs/dpc/dpc_mobilenet-v2-d16_1xb8-300_synthetic-shapes-128x128.py'
feature_levels = [3]
cache_root = 'work_dirs/feature_cache/synthetic-shapes_mobilenet-v2-d16'
model = dict(decode_head=dict(num_classes=5))
# the loaders read this config's cache_root (a base's variable is bound
# where it is written), in the main process (one CPU)
train_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(data_root=cache_root))
val_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(data_root=cache_root))
test_dataloader = val_dataloader
env_cfg = dict(cudnn_benchmark=False)
randomness = dict(seed=0)
