# Proxy task of dpc_mobilenet-v2-x0.5-d8.py: its DPC head alone (128
# channels, rates in feature cells at output stride 8) on that backbone's
# cached 160-channel features.
_base_ = './dpc-proxy_mobilenet-v2-x0.5-d16.py'
model = dict(decode_head=dict(channels=128, output_stride=8,
                              rate_multiplier=1))
