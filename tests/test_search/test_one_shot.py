"""The supernet trains through the Runner on a generated cache, and one-shot
scores equal what a DPCHead with the inherited weights measures."""
import copy
import glob
import json
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.runner import Runner
from mmseg.evaluation import IoUMetric
from mmseg.registry import MODELS

from mmseg_dpc.datasets import CachedFeatureDataset
from mmseg_dpc.models.decode_heads import export_cell_state_dict
from mmseg_dpc.models.utils import TOP1_CITYSCAPES, reestimate_bn_statistics
from mmseg_dpc.search import Architecture, DPCSearchSpace
from mmseg_dpc.search.cached_batches import load_feature_batch
from mmseg_dpc.search.one_shot import (OneShotOptions, OneShotScorer,
                                       check_supernet_space, label_codes,
                                       miou_of_logits)

from ..conftest import REPO
from ..test_models.test_utils.test_dpc_supernet import CHAINED

SUPERNET_CONFIG = osp.join(
    REPO, 'configs/proxy/'
    'dpc-supernet_mobilenet-v2-d16_1xb8-1k_synthetic-shapes-128x128.py')


def supernet_cfg(cache, work_dir, iters, **head):
    cfg = Config.fromfile(SUPERNET_CONFIG)
    cfg.work_dir = str(work_dir)
    cfg.model.decode_head.update(channels=16, **head)
    cfg.train_cfg.update(max_iters=iters, val_interval=iters)
    cfg.default_hooks.checkpoint.interval = 2
    cfg.default_hooks.logger.interval = 1
    cfg.param_scheduler[0].end = 4
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = cache
    cfg.train_dataloader.batch_size = 4
    return cfg


@pytest.fixture(scope='module')
def trained(feature_cache, tmp_path_factory):
    """A supernet trained 2 iterations, then resumed to 4."""
    work = tmp_path_factory.mktemp('supernet')
    Runner.from_cfg(supernet_cfg(feature_cache, work, 2)).train()
    cfg = supernet_cfg(feature_cache, work, 4)
    cfg.resume = True
    runner = Runner.from_cfg(cfg)
    runner.train()
    return cfg, runner.model, str(work / 'iter_4.pth')


def test_supernet_trains_and_resumes_through_the_runner(trained):
    cfg, model, ckpt = trained
    head = model.decode_head
    assert type(head).__name__ == 'DPCSupernetHead'
    # 2 + 2 iterations: the resumed run continued the cell sequence
    assert int(head.num_sampled) == 4
    assert osp.exists(ckpt) and osp.exists(osp.join(cfg.work_dir,
                                                    'iter_2.pth'))
    saved = torch.load(ckpt, map_location='cpu', weights_only=False)
    assert int(saved['state_dict']['decode_head.num_sampled']) == 4
    files = glob.glob(osp.join(cfg.work_dir, '*/vis_data/scalars.json'))
    scalars = [json.loads(line) for f in sorted(files) for line in open(f)]
    assert sum('mIoU' in s for s in scalars) == 2
    assert all(torch.isfinite(torch.tensor(s['loss'])) for s in scalars
               if 'loss' in s)


def reference_miou(head, arch, cfg, bn_inputs, num_val=None):
    """What a stand-alone DPCHead with the exported weights measures, BN
    re-estimated, as mmseg's IoUMetric counts it (rounded to 0.01)."""
    seg = MODELS.build(dict(type='CachedFeatureSegmentor',
                            decode_head=head.cell_head_config(arch)))
    seg.load_state_dict(export_cell_state_dict(head, arch, 'decode_head.'))
    reestimate_bn_statistics(seg.decode_head, bn_inputs,
                             lambda x: seg.decode_head([x]))
    seg.eval()
    ds = CachedFeatureDataset(cfg.val_dataloader.dataset.data_root, 'val',
                              test_mode=True)
    metric = IoUMetric(iou_metrics=['mIoU'])
    metric.dataset_meta = ds.metainfo
    n = num_val or len(ds)
    for i in range(0, n, 3):
        batch = seg.data_preprocessor(
            pseudo_collate([ds[j] for j in range(i, min(i + 3, n))]), False)
        with torch.no_grad():
            preds = seg.predict(batch['inputs'], batch['data_samples'])
        metric.process({}, [p.to_dict() for p in preds])
    return metric.compute_metrics(metric.results)['mIoU']


@pytest.mark.parametrize('out_of_range', [False, True],
                         ids=['labels in range', 'a label >= C'])
def test_the_metric_counts_as_mmsegs_iou_metric(out_of_range):
    """Ignored pixels, a class only predicted, a class neither labelled
    nor predicted, labels outside the classes, chunks that split the maps
    unevenly: the fast confusion matrix gives IoUMetric's mIoU."""
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(5, 5, 6, 6, generator=g)
    logits[:, 4] = -10  # class 4: never predicted, never labelled
    labels = torch.randint(0, 4, (5, 24, 24), generator=g)
    labels[labels == 3] = 2  # class 3: only ever predicted
    labels[:, :5] = 255
    if out_of_range:
        labels[:, 5:8] = 7
    metric = IoUMetric(iou_metrics=['mIoU'])
    metric.dataset_meta = dict(classes=('a', 'b', 'c', 'd', 'e'))
    up = torch.nn.functional.interpolate(logits, size=(24, 24),
                                         mode='bilinear', align_corners=False)
    metric.process({}, [dict(pred_sem_seg=dict(data=u.argmax(0)[None]),
                             gt_sem_seg=dict(data=lab[None]))
                        for u, lab in zip(up, labels)])
    ref = metric.compute_metrics(metric.results)['mIoU']
    got = miou_of_logits(logits, label_codes(labels, 5), 5, chunk=2)
    assert got == pytest.approx(ref, abs=0.006)
    # the ignored pixels are left out: counting them as class 3 changes it
    assert miou_of_logits(logits, label_codes(labels.clamp(max=3), 5), 5,
                          chunk=2) != pytest.approx(got, abs=0.1)


def random_head(cfg, sharing):
    """An untrained supernet head whose cells predict varied maps."""
    torch.manual_seed(0)
    head = MODELS.build(dict(cfg.model.decode_head, sharing=sharing))
    g = torch.Generator().manual_seed(1)
    for m in head.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.weight.data.uniform_(0.5, 1.5, generator=g)
            m.bias.data.uniform_(-0.5, 0.5, generator=g)
    head.conv_seg.weight.data.normal_(0, 1, generator=g)
    return head.eval()


@pytest.mark.parametrize('sharing', ['rate_pair', 'position'])
@pytest.mark.parametrize('memo_bytes,split', [(1 << 30, True), (0, False)],
                         ids=['memo+parts', 'plain'])
def test_one_shot_score_equals_the_exported_dpc_head(trained, sharing,
                                                     memo_bytes, split):
    cfg = trained[0]
    head = random_head(cfg, sharing)
    bn = load_feature_batch(cfg, 'train_dataloader', 8, seed=0)
    val = load_feature_batch(cfg, 'val_dataloader')
    options = OneShotOptions(bn_batches=2, memo_bytes=memo_bytes,
                             split_projection=split)
    scorer = OneShotScorer(head, bn.chunks(4), val, options)
    archs = [TOP1_CITYSCAPES, CHAINED] + [head.sample_arch(i)
                                          for i in range(3)]
    scores = [scorer.score(a) for a in archs]
    refs = [reference_miou(head, a, cfg, [b.inputs for b in bn.chunks(4)])
            for a in archs]
    for got, ref in zip(scores, refs):
        assert got == pytest.approx(ref, abs=0.011)
    assert len({round(s, 2) for s in scores}) > 1  # the cells differ


def test_fewer_validation_maps_score_those_maps(trained):
    cfg = trained[0]
    head = random_head(cfg, 'rate_pair')
    bn = load_feature_batch(cfg, 'train_dataloader', 4, seed=0)
    val = load_feature_batch(cfg, 'val_dataloader')
    scorer = OneShotScorer(head, bn.chunks(4), val,
                           OneShotOptions(bn_batches=1, num_val=3))
    assert scorer.score(CHAINED) == pytest.approx(
        reference_miou(head, CHAINED, cfg, [bn.inputs], num_val=3),
        abs=0.011)


def test_many_cells_share_branches_report_progress_and_keep_order(trained):
    cfg, _, ckpt = trained
    options = OneShotOptions(bn_batches=2, bn_batch_size=4)
    scorer = OneShotScorer.from_config(cfg, ckpt, options)
    space = DPCSearchSpace(num_branches=5)
    check_supernet_space(space, scorer.head)
    cells = list(space.samples(12, seed=3))
    events = []
    results = list(scorer.score_cells(cells, progress=events.append))
    assert sorted(r.index for r in results) == list(range(12))
    assert all(r.arch == cells[r.index] for r in results)
    assert [e.done for e in events] == list(range(1, 13))
    assert events[-1].total == 12 and events[-1].eta_s == 0
    assert events[0].eta_s is not None and events[-1].cells_per_s > 0
    # branches reading F recur across cells: the memo serves them
    assert events[-1].memo_hits > 0
    assert events[-1].memo_hits + events[-1].memo_misses == 12 * 5
    given = OneShotScorer.from_config(
        cfg, ckpt, OneShotOptions(bn_batches=2, bn_batch_size=4,
                                  order='given', memo_bytes=0))
    plain = list(given.score_cells(cells))
    assert [r.index for r in plain] == list(range(12))
    by_index = {r.index: r.miou for r in results}
    for r in plain:
        assert r.miou == pytest.approx(by_index[r.index], abs=1e-6)


def test_bad_input_is_named(trained, tmp_path):
    cfg, model, ckpt = trained
    other = copy.deepcopy(cfg)
    head = other.model.decode_head
    head.sharing = 'rate_pair' if head.sharing == 'position' else 'position'
    with pytest.raises(ValueError, match="another space.*sharing"):
        OneShotScorer.from_config(other, ckpt)
    plain = Config.fromfile(osp.join(
        REPO, 'configs/proxy/'
        'dpc-proxy_mobilenet-v2-d16_1xb8-1k_synthetic-shapes-128x128.py'))
    with pytest.raises(ValueError, match='DPCSupernetHead'):
        OneShotScorer.from_config(plain, ckpt)
    with pytest.raises(ValueError, match='bn_batches x bn_batch_size'):
        OneShotScorer.from_config(cfg, ckpt, OneShotOptions(bn_batches=5))
    with pytest.raises(ValueError, match='rates'):
        check_supernet_space(DPCSearchSpace(rates=(1, 3)),
                             model.decode_head)
    with pytest.raises(ValueError, match='order'):
        OneShotOptions(order='random')
    with pytest.raises(ValueError, match='memo_bytes'):
        OneShotOptions(memo_bytes=-1)
    scorer = OneShotScorer.from_config(cfg, ckpt, OneShotOptions(
        bn_batches=1, bn_batch_size=2))
    wide = [dict(op='conv', kernel=3, rate=[2, 2], input=-1)] * 5
    with pytest.raises(ValueError, match="field 'rate'"):
        list(scorer.score_cells([Architecture(TOP1_CITYSCAPES),
                                 Architecture(wide)]))
