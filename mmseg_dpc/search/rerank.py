"""Re-ranking: the top proxy architectures trained on the full task, and
how well the proxy ranks them (Spearman and Kendall, as the paper's
Sec. 4.1)."""
from __future__ import annotations

import json
import os.path as osp
from typing import Any, Dict, List

from optuna.trial import TrialState
from scipy.stats import kendalltau, spearmanr

from .architecture import Architecture
from ..utils.io import atomic_write_json
from .trial import (COMPLETE, FAILED, read_result, run_outcome,
                    train_command, write_result, write_trial_config)


def rank_correlation(proxy: List[float], full: List[float]) -> Dict:
    """Spearman's rho and Kendall's tau with p-values; ``None`` where
    undefined (fewer than 2 points, or a constant side)."""
    out: Dict[str, Any] = dict(n=len(proxy))
    if len(proxy) < 2 or len(set(proxy)) < 2 or len(set(full)) < 2:
        out.update(spearman=None, spearman_p=None, kendall=None,
                   kendall_p=None)
        return out
    rho, rho_p = spearmanr(proxy, full)
    tau, tau_p = kendalltau(proxy, full)
    out.update(spearman=float(rho), spearman_p=float(rho_p),
               kendall=float(tau), kendall_p=float(tau_p))
    return out


class Reranker:
    """Trains the ``rerank.top_k`` best proxy trials with
    ``rerank.full_config`` (the cell put into its DPC head) through the
    driver's launcher; finished ones are kept on resume."""

    def __init__(self, driver) -> None:
        self.driver = driver
        cfg = driver.settings.rerank
        self.top_k = cfg['top_k']
        self.full_config = cfg['full_config']
        self.options = cfg['cfg_options']
        self.init_from = cfg.get('init_from')  # the same backbone for all
        self.timeout = cfg.get('timeout', driver.timeout)
        self.dir = osp.join(driver.work_dir, 'rerank')
        self.path = osp.join(driver.work_dir, 'rerank.json')

    def candidates(self):
        d = self.driver
        done = [t for t in d.study.get_trials(
            deepcopy=False, states=(TrialState.COMPLETE, ))
            if 'skipped' not in t.user_attrs]
        sign = -1 if d.objectives[0]['direction'] == 'maximize' else 1
        return sorted(done, key=lambda t: (sign * t.values[0],
                                           t.number))[:self.top_k]

    def results(self) -> Dict[int, Dict[str, Any]]:
        if not osp.exists(self.path):
            return {}
        with open(self.path) as f:
            return {r['trial']: r for r in json.load(f)['trials']}

    def run(self) -> Dict[str, Any]:
        d = self.driver
        todo, rows = {}, []
        candidates = self.candidates()
        ranks = {c.number: i for i, c in enumerate(candidates, 1)}
        for t in candidates:
            arch = Architecture.from_json(t.user_attrs['arch'])
            run_dir = osp.join(self.dir, osp.basename(t.user_attrs[
                'trial_dir']))
            prev = read_result(run_dir)
            if prev and prev['status'] == COMPLETE:
                rows.append(self._row(t, prev, ranks))
                continue
            config = write_trial_config(self.full_config, arch, run_dir,
                                        self.options, seed=d.seed,
                                        backbone_from=self.init_from)
            todo[t.number] = (t, arch, run_dir, config)
        print(f'[rerank] top {self.top_k}: {len(rows)} done before, '
              f'{len(todo)} to train on the full task')
        queue = list(todo)
        running = set()
        while queue or running:
            while queue and d.launcher.free_slots > 0:
                n = queue.pop(0)
                _, _, run_dir, config = todo[n]
                d.launcher.submit(('rerank', n),
                                  train_command(config, run_dir),
                                  osp.join(run_dir, 'train.log'),
                                  self.timeout, env=d.trial_env())
                running.add(n)
            for fin in d.launcher.poll():
                n = fin.key[1]
                running.discard(n)
                t, arch, run_dir, _ = todo[n]
                result = self._collect(t, arch, run_dir, fin)
                rows.append(self._row(t, result, ranks))
                print(f'[rerank] trial {n} ({arch.hash}): proxy mIoU '
                      f'{t.user_attrs.get("mIoU")}, full '
                      f'{result["metrics"].get("mIoU")} {result["status"]}')
            d.launcher.wait(d.poll_interval)
        ok = [r for r in rows if r['full_mIoU'] is not None]
        report = dict(trials=sorted(rows, key=lambda r: r['proxy_rank']),
                      full_config=self.full_config,
                      **rank_correlation([r['proxy_mIoU'] for r in ok],
                                         [r['full_mIoU'] for r in ok]))
        atomic_write_json(self.path, report)
        print(f'[rerank] proxy vs full, {report["n"]} architectures: '
              f'Spearman {report["spearman"]}, Kendall {report["kendall"]}')
        return report

    def _collect(self, t, arch, run_dir, fin) -> Dict[str, Any]:
        metrics, error = run_outcome(run_dir, fin, self.timeout)
        result = dict(trial=t.number, arch_hash=arch.hash,
                      arch=arch.to_list(),
                      status=FAILED if error else COMPLETE, metrics=metrics,
                      wall_time=fin.wall_time, error=error,
                      initialised=(f'backbone from {self.init_from}'
                                   if self.init_from else 'from scratch'),
                      config=osp.join(run_dir, 'config.py'))
        write_result(run_dir, result)
        return result

    @staticmethod
    def _row(t, result, ranks: Dict[int, int]) -> Dict[str, Any]:
        return dict(trial=t.number, arch_hash=t.user_attrs['arch_hash'],
                    proxy_rank=ranks.get(t.number),
                    proxy_mIoU=t.user_attrs.get('mIoU'),
                    full_mIoU=result['metrics'].get('mIoU'),
                    status=result['status'], error=result.get('error'),
                    wall_time=result.get('wall_time'))
