# Proxy task, Cityscapes: the DPC alone, trained on cached MobileNetV2
# (OS 16) features of `feature_source`. The cache holds whole 2048x1024
# images (128x64 feature cells); training takes random 48x48-cell crops
# (768x768 px, about the full task's 769x769), validation whole images.
# Build the cache first: tools/cache_features.py THIS
_base_ = [
    '../_base_/models/dpc-proxy.py', '../_base_/datasets/cached_features.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_proxy-30k.py'
]
feature_source = \
    'configs/dpc/dpc_mobilenet-v2-d16_8xb2-90k_cityscapes-769x769.py'
feature_levels = [3]  # MobileNetV2 out_indices[3]: 320 channels, stride 16
cache_root = 'work_dirs/feature_cache/cityscapes_mobilenet-v2-d16'
cache_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
model = dict(decode_head=dict(num_classes=19))
train_dataloader = dict(
    dataset=dict(data_root=cache_root, crop_size=(48, 48)))
val_dataloader = dict(dataset=dict(data_root=cache_root))
test_dataloader = val_dataloader
