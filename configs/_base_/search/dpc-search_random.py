# The paper's search: random sampling of its DPC space (5 branches; 1x1
# conv, 3x3 separable conv with rates 1-21 per axis, or pyramid pooling over
# grids 1-8: 81 ops, 5! x 81^5 = 4.2e11 cells), one objective, every cell
# trained to the end, and the search's run-time settings. A search config
# adds what is its own: `proxy_config` (and `proxy_cfg_options`),
# `num_trials`, `rerank.full_config`, a `study_name` and any `verdict`
# (docs/en/user_guides/search_config.md).
search_space = dict(
    type='DPCSearchSpace',
    num_branches=5,
    rates=(1, 3, 6, 9, 12, 15, 18, 21),
    grids=(1, 2, 4, 8),
    ops=('conv1x1', 'sep_conv3x3', 'pyramid_pooling'))
# 'random' (the paper's) | 'evolution' (regularized: population_size,
# sample_size) | 'tpe' | 'nsga2' (population_size), each with a seed
strategy = dict(type='random', seed=0)
# the first is the one the leaderboard sorts by; add
# dict(name='flops', direction='minimize') for a multi-objective search
objectives = [dict(name='mIoU', direction='maximize')]
constraints = dict(max_params=None, max_flops=None)
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
# the best `top_k` proxy cells trained on the full task (`full_config`, set
# by the search config; `init_from=CHECKPOINT` starts each from that
# checkpoint's backbone)
rerank = dict(top_k=3, cfg_options=dict(), timeout=1800)
