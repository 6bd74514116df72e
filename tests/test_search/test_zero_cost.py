"""Zero-cost scores: deterministic for a seed, and each responds to what it
measures and to nothing else its definition excludes."""
import copy
import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmseg_dpc.models.utils import TOP1_CITYSCAPES
from mmseg_dpc.search import DPCSearchSpace
from mmseg_dpc.search.cached_batches import FeatureBatch, load_feature_batch
from mmseg_dpc.search.zero_cost import (ZeroCostScorer, get_score,
                                        score_names, zero_cost_score)

from ..conftest import REPO
from ..test_models.test_utils.test_dpc_supernet import CHAINED

PROXY_CONFIG = osp.join(
    REPO, 'configs/proxy/'
    'dpc-proxy_mobilenet-v2-d16_1xb8-1k_synthetic-shapes-128x128.py')
ALL = ('naswot', 'jacob_cov', 'grad_norm', 'snip', 'synflow', 'fisher',
       'params', 'flops')
# a leaf 1x1 conv branch (3) that only the projection reads
LEAF = [
    dict(op='conv', kernel=3, rate=[1, 6], input=-1),
    dict(op='pyramid_pooling', grid_size=[2, 2], input=0),
    dict(op='conv', kernel=3, rate=[3, 1], input=0),
    dict(op='conv', kernel=1, input=-1),
]


@pytest.fixture(scope='module')
def proxy_cfg(feature_cache):
    cfg = Config.fromfile(PROXY_CONFIG)
    cfg.model.decode_head.channels = 16
    for loader in ('train_dataloader', 'val_dataloader'):
        cfg[loader].dataset.data_root = feature_cache
    cfg.train_dataloader.batch_size = 4
    return cfg


@pytest.fixture(scope='module')
def scorer(proxy_cfg):
    """Heads of the proxy config; a batch of unit-variance features (the
    generated cache comes from an untrained backbone, whose last-stage
    features are about 1e-7, where BN's epsilon dominates)."""
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 5, (4, 128, 128), generator=g)
    labels[:, :8] = 255
    batch = FeatureBatch(torch.randn(4, 160, 8, 8, generator=g), labels,
                         (0, 1, 2, 3))
    return ZeroCostScorer(proxy_cfg.model.decode_head, batch, seed=0)


def with_batch(batch, inputs=None, labels=None):
    return FeatureBatch(batch.inputs if inputs is None else inputs,
                        batch.labels if labels is None else labels,
                        batch.indices)


def test_every_score_is_registered_and_deterministic(scorer, proxy_cfg):
    assert set(ALL) <= set(score_names())
    a = scorer.score(CHAINED).scores
    head_cfg = proxy_cfg.model.decode_head
    again = ZeroCostScorer(head_cfg, scorer.batch, seed=0).score(CHAINED)
    assert set(a) == set(ALL)
    for name in ALL:
        assert a[name] == again.scores[name], name
        assert math.isfinite(a[name]), name
    # another initialisation seed: the weight-dependent scores move
    b = ZeroCostScorer(head_cfg, scorer.batch, seed=1).score(CHAINED).scores
    assert b['params'] == a['params'] and b['flops'] == a['flops']
    for name in ('grad_norm', 'snip', 'fisher', 'synflow', 'jacob_cov'):
        assert b[name] != a[name], name


def test_the_head_is_left_unchanged(scorer):
    head = scorer.build_head(CHAINED)
    before = {k: v.clone() for k, v in head.state_dict().items()}
    for name in ALL:
        zero_cost_score(name, head, scorer.batch)
    for k, v in head.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_params_and_flops_are_the_head_cost(scorer):
    head = scorer.build_head(TOP1_CITYSCAPES)
    assert zero_cost_score('params', head, scorer.batch) == sum(
        p.numel() for p in head.parameters())
    from mmengine.analysis import get_model_complexity_info
    x = scorer.batch.inputs[:1]
    counted = get_model_complexity_info(head.eval(), inputs=([x], ),
                                        show_table=False, show_arch=False)
    assert zero_cost_score('flops', head, scorer.batch) == counted['flops']


def rescale_leaf(head, alpha):
    """Scale the leaf 1x1 conv of LEAF by alpha and the projection's slice
    that reads it by 1 / alpha: with BN removed and ReLU positively
    homogeneous, the network function is unchanged."""
    with torch.no_grad():
        head.dpc.branches[3].conv.weight.mul_(alpha)
        c = head.channels
        head.dpc.project.conv.weight[:, 3 * c:4 * c].div_(alpha)
    return head


def test_synflow_is_invariant_to_rescaling_and_data_free(scorer):
    head = scorer.build_head(LEAF)
    batch = scorer.batch
    base = zero_cost_score('synflow', head, batch)
    scaled = rescale_leaf(copy.deepcopy(head), 7.0)
    # Tanaka et al.: a neuron-wise rescaling leaves every synaptic saliency
    assert zero_cost_score('synflow', scaled, batch) == pytest.approx(
        base, rel=1e-9)
    # only the batch's shape is used
    noise = with_batch(batch, inputs=torch.randn_like(batch.inputs))
    assert zero_cost_score('synflow', head, noise) == base
    # a layer's weights rescaled alone scale the score
    with torch.no_grad():
        head.dpc.branches[3].conv.weight.mul_(7.0)
    assert zero_cost_score('synflow', head, batch) > base * 1.5


def test_snip_and_fisher_are_invariant_to_rescaling_before_bn(scorer):
    """Scaling a conv followed by BN (training mode) leaves the function and
    ``w * dL/dw`` and ``a * dL/da`` unchanged, but divides the conv's
    gradient: grad_norm sees it, snip and fisher do not."""
    # in double precision: the sums of a * dL/da over a map before BN
    # cancel (BN makes the loss invariant to the scale), float32 leaves noise
    head = scorer.build_head(LEAF).double()
    head.dpc.branches[0].depthwise_conv.bn.eps = 1e-30  # invariant
    batch = with_batch(scorer.batch, inputs=scorer.batch.inputs.double())
    scaled = copy.deepcopy(head)
    with torch.no_grad():
        scaled.dpc.branches[0].depthwise_conv.conv.weight.mul_(4.0)
    for name in ('snip', 'fisher', 'naswot', 'jacob_cov'):
        assert zero_cost_score(name, scaled, batch) == pytest.approx(
            zero_cost_score(name, head, batch), rel=1e-7), name
    assert zero_cost_score('grad_norm', scaled, batch) != pytest.approx(
        zero_cost_score('grad_norm', head, batch), rel=2e-2)


def test_label_free_scores_ignore_labels_and_loss_scores_do_not(scorer):
    head = scorer.build_head(CHAINED)
    batch = scorer.batch
    flipped = with_batch(batch, labels=(batch.labels + 1) % 5)
    for name in ('naswot', 'jacob_cov', 'synflow', 'params', 'flops'):
        assert zero_cost_score(name, head, flipped) == zero_cost_score(
            name, head, batch), name
    for name in ('grad_norm', 'snip', 'fisher'):
        assert zero_cost_score(name, head, flipped) != zero_cost_score(
            name, head, batch), name


def test_naswot_and_jacob_cov_measure_how_maps_differ(scorer):
    head = scorer.build_head(CHAINED)
    batch = scorer.batch
    same = batch.inputs.clone()
    same[1] = same[0]  # two maps the head cannot tell apart
    twin = with_batch(batch, inputs=same)
    assert zero_cost_score('naswot', head, twin) < zero_cost_score(
        'naswot', head, batch) - 1
    assert zero_cost_score('jacob_cov', head, twin) < zero_cost_score(
        'jacob_cov', head, batch) - 1e3
    # fewer active units: the activation codes agree more
    dark = copy.deepcopy(head)
    for m in dark.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.bias.data.fill_(-2.0)
    assert zero_cost_score('naswot', dark, batch) < zero_cost_score(
        'naswot', head, batch)


def test_many_cells_with_progress(scorer):
    cells = list(DPCSearchSpace().samples(3, seed=1))
    events = []
    out = list(scorer.score_cells(cells, progress=events.append))
    assert [r.index for r in out] == [0, 1, 2]
    assert [r.arch for r in out] == cells
    assert [e.done for e in events] == [1, 2, 3] and events[-1].eta_s == 0
    assert len({r.scores['params'] for r in out}) == 3


def test_from_config_scores_a_batch_of_the_cache(proxy_cfg):
    a = ZeroCostScorer.from_config(proxy_cfg, scores=['naswot', 'params'],
                                   seed=3)
    b = ZeroCostScorer.from_config(proxy_cfg, scores=['naswot', 'params'],
                                   seed=3)
    assert len(a.batch) == 4 and a.batch.indices == b.batch.indices
    assert torch.equal(a.batch.inputs, b.batch.inputs)
    assert a.batch.inputs.shape[1:] == (160, 8, 8)
    assert a.batch.labels.shape[1:] == (128, 128)
    assert a.score(CHAINED).scores == b.score(CHAINED).scores
    assert ZeroCostScorer.from_config(proxy_cfg, seed=4).batch.indices != \
        a.batch.indices


def test_unknown_score_is_named(proxy_cfg):
    with pytest.raises(ValueError, match="unknown zero-cost score 'zen'; "
                       'known: .*synflow.*naswot'):
        get_score('zen')
    with pytest.raises(ValueError, match="'zen'"):
        ZeroCostScorer.from_config(proxy_cfg, scores=['naswot', 'zen'])
    with pytest.raises(ValueError, match='no scores'):
        ZeroCostScorer(proxy_cfg.model.decode_head,
                       load_feature_batch(proxy_cfg, num=2), scores=[])
    supernet = dict(proxy_cfg.model.decode_head, type='DPCSupernetHead')
    with pytest.raises(ValueError, match='DPCHead is needed'):
        ZeroCostScorer(supernet, load_feature_batch(proxy_cfg, num=2))
    with pytest.raises(ValueError, match='asked for 99 maps'):
        load_feature_batch(proxy_cfg, num=99)
