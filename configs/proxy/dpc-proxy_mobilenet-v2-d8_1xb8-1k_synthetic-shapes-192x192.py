# Proxy task of the embedded demo where scale matters: the DPC alone on
# cached features of the demo model's backbone (MobileNetV2 x0.5, OS 8: 160
# channels, 24x24 cells), rates in feature cells and 128 channels as the
# full model (see its config).
_base_ = './dpc-proxy_mobilenet-v2-d16_1xb8-1k_synthetic-shapes-128x128.py'
feature_source = \
    'configs/dpc/dpc_mobilenet-v2-d8_1xb4-300_synthetic-shapes-192x192.py'
cache_root = 'work_dirs/feature_cache/synthetic-shapes-192_mobilenet-v2-d8'
model = dict(decode_head=dict(channels=128, output_stride=8,
                              rate_multiplier=1))
train_dataloader = dict(dataset=dict(data_root=cache_root))
val_dataloader = dict(dataset=dict(data_root=cache_root))
test_dataloader = val_dataloader
