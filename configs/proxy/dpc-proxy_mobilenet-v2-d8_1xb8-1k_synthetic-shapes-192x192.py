# Proxy task of the embedded demo where scale matters: the DPC alone on
# cached features of the demo model's backbone (MobileNetV2 x0.5, OS 8: 160
# channels, 24x24 cells), rates in feature cells and 128 channels as the
# full model (see its config).
_base_ = [
    '../_base_/models/dpc-proxy_mobilenet-v2-x0.5-d8.py',
    '../_base_/datasets/cached_features.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_proxy-1k.py'
]
feature_source = \
    'configs/dpc/dpc_mobilenet-v2-d8_1xb4-300_synthetic-shapes-192x192.py'
feature_levels = [3]
cache_root = 'work_dirs/feature_cache/synthetic-shapes-192_mobilenet-v2-d8'
model = dict(decode_head=dict(num_classes=5))
train_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(data_root=cache_root))
val_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(data_root=cache_root))
test_dataloader = val_dataloader
env_cfg = dict(cudnn_benchmark=False)
randomness = dict(seed=0)
