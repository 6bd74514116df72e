# Random search (the paper's) over the DPC space on the demo's proxy task,
# then the top 3 re-ranked on the full task.
# Build the feature cache first:
#   python tools/cache_features.py PROXY_CONFIG --checkpoint BACKBONE.pth
study_name = 'dpc-search_synthetic-shapes'
search_space = dict(
    type='DPCSearchSpace',
    num_branches=5,
    rates=(1, 3, 6, 9, 12, 15, 18, 21),
    grids=(1, 2, 4, 8),
    ops=('conv1x1', 'sep_conv3x3', 'pyramid_pooling'))
# every trial inherits this proxy config, with these overrides
proxy_config = \
    'configs/proxy/dpc-proxy_mobilenet-v2-d16_1xb8-1k_synthetic-shapes-128x128.py'
proxy_cfg_options = dict(
    train_cfg=dict(max_iters=300, val_interval=300),
    param_scheduler=[dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0,
                          end=300, by_epoch=False)],
    default_hooks=dict(checkpoint=dict(interval=300),
                       logger=dict(interval=100)))
# 'random' (the paper's) | 'evolution' (regularized: population_size,
# sample_size) | 'tpe' | 'nsga2' (population_size), each with a seed
strategy = dict(type='random', seed=0)
# the first is the one the leaderboard sorts by; add
# dict(name='flops', direction='minimize') for a multi-objective search
objectives = [dict(name='mIoU', direction='maximize')]
constraints = dict(max_params=None, max_flops=None)
num_trials = 30     # cells evaluated: trained to the end, or pruned
# To stop poor cells early at rungs (in iterations; one objective only),
# set `pruner` (unset: every cell trains to the end), e.g. with
# --cfg-options pruner.type=SuccessiveHalving pruner.min_resource=30:
# dict(type='SuccessiveHalving', min_resource=30, reduction_factor=3),
# dict(type='Hyperband', min_resource=30, reduction_factor=3) or
# dict(type='Median', interval_steps=50, n_warmup_steps=50)
trial_timeout = 600  # seconds; a trial past it is killed and FAILED
max_retries = 1      # re-runs of a trial that crashed or lost its driver
seed = 0             # training seed of every trial
heartbeat = dict(interval=10, grace_period=30)
# stop the search with an error (keeping what completed) once this many
# trials in a row failed, or once more than `fraction` of at least
# 2 x `consecutive` finished trials failed
failure_budget = dict(consecutive=5, fraction=0.5)
resources = dict(gpus=(), cpus_per_trial=1, gpus_per_trial=0)
rerank = dict(
    top_k=3,
    full_config=
    'configs/dpc/dpc_mobilenet-v2-d16_1xb8-300_synthetic-shapes-128x128.py',
    cfg_options=dict(),
    timeout=1800)
