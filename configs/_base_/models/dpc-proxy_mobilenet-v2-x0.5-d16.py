# Proxy task of dpc_mobilenet-v2-x0.5-d16.py: its DPC head alone on that
# backbone's cached 160-channel features, with BatchNorm. num_classes is
# set by the config (from its data set's classes).
_base_ = './dpc-proxy.py'
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(decode_head=dict(in_channels=160, norm_cfg=norm_cfg))
