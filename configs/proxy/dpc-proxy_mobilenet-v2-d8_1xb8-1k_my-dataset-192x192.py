# Proxy task of dpc_mobilenet-v2-d8_1xb4-300_my-dataset-192x192.py: its DPC
# head alone on the cached features of that model's backbone (the data set
# reaches the cache through `feature_source`, the classes from the data
# set's classes file). Build the cache once the backbone run is done:
#   python tools/cache_features.py THIS
_base_ = [
    '../_base_/models/dpc-proxy_mobilenet-v2-x0.5-d8.py',
    '../_base_/datasets/cached_features.py',
    '../_base_/datasets/my_dataset_example_classes.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_proxy-1k.py'
]
feature_source = \
    'configs/dpc/dpc_mobilenet-v2-d8_1xb4-300_my-dataset-192x192.py'
feature_levels = [3]  # MobileNetV2 out_indices[3]: 160 channels, stride 8
# the backbone weights the cache is made from: the backbone run's last
# checkpoint (python tools/train.py FEATURE_SOURCE writes it there)
feature_checkpoint = \
    'work_dirs/dpc_mobilenet-v2-d8_1xb4-300_my-dataset-192x192/iter_300.pth'
cache_root = 'work_dirs/feature_cache/my-dataset_mobilenet-v2-d8'
model = dict(decode_head=dict(num_classes={{_base_.num_classes}}))
# the loaders read this config's cache_root (a base's variable is bound
# where it is written)
train_dataloader = dict(dataset=dict(data_root=cache_root))
val_dataloader = dict(dataset=dict(data_root=cache_root))
test_dataloader = val_dataloader
