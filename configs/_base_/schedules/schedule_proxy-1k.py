# The embedded demo's proxy schedule: the proxy schedule shortened to 1K
# iterations from a learning rate of 0.05 (a search's proxy_cfg_options
# shorten it further).
_base_ = './schedule_proxy-30k.py'
optim_wrapper = dict(optimizer=dict(lr=0.05))
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=1000,
         by_epoch=False)
]
train_cfg = dict(max_iters=1000, val_interval=1000)
default_hooks = dict(logger=dict(interval=100),
                     checkpoint=dict(interval=1000))
