# Random search (the paper's) over the DPC space on the demo's proxy task,
# then the top 3 re-ranked on the full task.
# Build the feature cache first:
#   python tools/cache_features.py PROXY_CONFIG --checkpoint BACKBONE.pth
_base_ = '../_base_/search/dpc-search_random.py'
study_name = 'dpc-search_synthetic-shapes'
# every trial inherits this proxy config, with these overrides
proxy_config = \
    'configs/proxy/dpc-proxy_mobilenet-v2-d16_1xb8-1k_synthetic-shapes-128x128.py'
proxy_cfg_options = dict(
    train_cfg=dict(max_iters=300, val_interval=300),
    param_scheduler=[dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0,
                          end=300, by_epoch=False)],
    default_hooks=dict(checkpoint=dict(interval=300),
                       logger=dict(interval=100)))
num_trials = 30     # cells evaluated: trained to the end, or pruned
rerank = dict(
    full_config=
    'configs/dpc/dpc_mobilenet-v2-d16_1xb8-300_synthetic-shapes-128x128.py')
