# The paper's search (random sampling of its DPC space) on the data set of
# _base_/datasets/my_dataset_example.py: 32 cells on the proxy task, the top
# 3 re-ranked on the full task, then the verdict over 3 seeds against the
# ASPP head and the released cell (docs/en/user_guides/
# 2_search_your_dataset.md). Run the backbone and build the cache first;
# re-ranking starts every cell from that backbone:
#   python tools/search.py THIS --cfg-options rerank.init_from=BACKBONE.pth
_base_ = '../_base_/search/dpc-search_random.py'
study_name = 'dpc-search_my-dataset'
proxy_config = \
    'configs/proxy/dpc-proxy_mobilenet-v2-d8_1xb8-1k_my-dataset-192x192.py'
num_trials = 32
rerank = dict(
    full_config=
    'configs/dpc/dpc_mobilenet-v2-d8_1xb4-300_my-dataset-192x192.py')
verdict = dict(
    seeds=3,
    median_cell=True,
    baselines={
        'mmseg ASPP head': 'configs/deeplabv3plus/deeplabv3plus_'
        'mobilenet-v2-d8_1xb4-300_my-dataset-192x192.py',
        'released top-1 cell': 'configs/dpc/dpc_mobilenet-v2-d8_'
        '1xb4-300_my-dataset-192x192.py',
    })
