"""The search driver: wires settings, study, strategy, runner, re-ranking
and the verdict together, and reports progress.

Data flows one way: the search config is checked into
:class:`~.settings.SearchSettings`; the :class:`~.ledger.StudyLedger` holds
the study; the :class:`~.scheduler.TrialScheduler` runs proxy trials through
a :class:`~.runner.TrialRunner` until ``num_trials`` are evaluated
(complete, or stopped by the pruner); each trial's
:class:`~.record.TrialRecord` goes to its folder and the study; the
leaderboard and re-ranking read them back from the ledger. Progress goes
to ``progress.jsonl`` as events (:mod:`.progress`).
"""
from __future__ import annotations

import os
import os.path as osp
import time
from dataclasses import replace
from typing import Any, Dict, Optional

from ..engine import add_metrics_hook
from ..feature_cache import cache_manifests, check_proxy_cache
from ..registry import SEARCH_SPACES
from . import interrupt
from .cheap_stage import CheapStage
from .cost import proxy_head_cost
from .launchers import build_launcher
from .leaderboard import write_leaderboard
from .ledger import StudyLedger
from .optuna_adapter import OptunaSpaceAdapter
from .progress import Message, ProgressLog, SearchProgress
from .pruning import STORAGE_ENV, build_pruner, rung_steps
from .rerank import Reranker
from .runner import TrialRunner, load_base_config
from .scheduler import SearchStopped, TrialScheduler
from .settings import SearchSettings, check_workers, default_storage
from .strategies import build_sampler
from .verdict import Verdicts

__all__ = ['SearchDriver', 'SearchStopped']


class SearchDriver:
    """Runs the search a search config describes (see
    ``configs/search/``).

    Args:
        cfg: the search config.
        work_dir: where trials, the study (SQLite) and results go.
        workers: concurrent trials (local launcher) or max concurrent Ray
            tasks (``None``: as many as the cluster's CPUs allow).
        launcher: ``'local'`` or ``'ray'``.
        storage: an Optuna storage URL (default: SQLite in ``work_dir``).
        ray_address: the Ray cluster (``None``: a local Ray runtime).
        resume: require an existing study to continue.
    """

    def __init__(self, cfg, work_dir: str, workers: Optional[int] = None,
                 launcher: str = 'local', storage: Optional[str] = None,
                 ray_address: Optional[str] = None,
                 resume: bool = False) -> None:
        # everything that can be checked is checked before anything exists
        self.settings = st = SearchSettings.from_config(cfg)
        check_workers(workers, launcher)
        self.work_dir = osp.abspath(work_dir)
        if resume and storage is None and not osp.exists(
                osp.join(self.work_dir, 'study.db')):
            raise ValueError(f'--resume: no study in {self.work_dir} '
                             '(no study.db)')
        self.space = SEARCH_SPACES.build(st.search_space)
        proxy = load_base_config(st.proxy_config, st.proxy_cfg_options)
        cost = proxy_head_cost(proxy, check_proxy_cache(proxy))
        self.cheap = CheapStage.from_settings(st, self.space, proxy, cost,
                                              self.work_dir)
        self.max_iters = proxy.train_cfg.max_iters
        self.rungs = rung_steps(st.pruner, self.max_iters)
        if self.rungs:
            add_metrics_hook(proxy, rungs=self.rungs)
        os.makedirs(osp.join(self.work_dir, 'trials'), exist_ok=True)
        self.launcher = build_launcher(launcher, workers, ray_address,
                                       st.resources)
        # every node that may run a trial sees the cache and the work dir
        self.launcher.require_shared_paths(cache_manifests(proxy),
                                           self.work_dir)
        url = storage or default_storage(self.work_dir)
        self.ledger = StudyLedger(
            st, url, build_sampler(st.strategy, self.space, st.seed), resume,
            build_pruner(st.pruner, self.max_iters), proxy=proxy)
        runner = TrialRunner(self.launcher, proxy, st.seed, st.trial_timeout,
                             st.threads_per_trial,
                             env={STORAGE_ENV: url} if st.pruner else None)
        self.scheduler = TrialScheduler(
            st, self.ledger, runner, OptunaSpaceAdapter(self.space), cost,
            osp.join(self.work_dir, 'trials'), self.max_iters)
        self.log = ProgressLog(self.work_dir)
        self.reranker = Reranker(
            st.rerank, self.launcher, self.work_dir, self.log, st.seed,
            st.threads_per_trial) if st.rerank else None
        self.verdicts = Verdicts(
            st.verdict, st.rerank, self.launcher, self.work_dir, self.log,
            st.seed, st.threads_per_trial) if st.verdict else None

    def run(self) -> Dict[str, Any]:
        """Run until ``num_trials`` trials are evaluated, then re-rank and
        give the verdict over seeds (where the config asks);
        returns the summary written to ``summary.json``. Raises
        :class:`SearchStopped` when the failure budget is spent, and
        :class:`~.interrupt.SearchInterrupted` on Ctrl-C or SIGTERM (in
        both, what is done written first; interrupted trials wait in the
        study for the same command)."""
        st, sched = self.settings, self.scheduler
        start = last_print = last_board = time.time()
        print(f'[search] study {st.study_name!r}, {self.space}, '
              f'{self.space.size:.3g} cells, strategy {st.strategy.type}, '
              f'{st.num_trials} trials, {self.launcher.workers} workers')
        self.ledger.start()
        shown = None
        try:
            if self.cheap is not None:  # its best cells are trained first
                self.cheap.propose(self.ledger, self.launcher,
                                   st.poll_interval)
            while not sched.done():
                interrupt.check()
                finished, started = sched.step()
                now = time.time()
                if finished or started or now - last_print > 30:
                    shown = self._show(sched.progress(start), shown)
                    last_print = now
                if finished and now - last_board > 10:
                    write_leaderboard(self.work_dir, self.ledger, self.rungs)
                    last_board = now
                sched.wait(st.poll_interval)
        except BaseException as e:
            stopped = interrupt.as_interrupt(e)
            if stopped is not None:
                n = sched.interrupt(f'interrupted by {stopped}')
                self._stopped(stopped, f'{n} running trial(s) put back in '
                              'the study')
                raise stopped from None
            sched.stop(str(e).splitlines()[0] if str(e) else
                       type(e).__name__)
            self._write_board()
            raise
        finally:
            self.launcher.shutdown()
            self.ledger.stop()
        self._show(sched.progress(start), shown)
        try:
            if self.reranker is not None:
                write_leaderboard(self.work_dir, self.ledger, self.rungs)
                ranked = self.ledger.complete_trials()
                rerank = self.reranker.run(ranked, st.poll_interval)
                if self.verdicts is not None:
                    self.verdicts.run(rerank, ranked, st.poll_interval)
        except BaseException as e:
            stopped = interrupt.as_interrupt(e)
            if stopped is None:
                raise
            self._stopped(stopped, 'the full-task runs that were running '
                          'are INTERRUPTED; the complete ones are kept')
            raise stopped from None
        summary = write_leaderboard(self.work_dir, self.ledger, self.rungs)
        print(f'[search] leaderboard: {summary["leaderboard_csv"]}')
        return summary

    def _show(self, progress: SearchProgress,
              shown: Optional[SearchProgress]) -> SearchProgress:
        """Emit ``progress`` unless it says what ``shown`` (the last one
        emitted) said, times aside; returns what was shown last."""
        if shown is None or replace(progress, elapsed=0.0, eta=None) != \
                replace(shown, elapsed=0.0, eta=None):
            self.log.emit(progress)
            return progress
        return shown

    def _write_board(self) -> None:
        try:  # what completed stays on the leaderboard
            write_leaderboard(self.work_dir, self.ledger, self.rungs)
        except Exception as board_error:
            print(f'[search] could not write the leaderboard: '
                  f'{board_error}')

    def _stopped(self, stopped, what: str) -> None:
        """Write what is done and say how to continue after ``stopped``."""
        self._write_board()
        self.log.emit(Message('search', f'interrupted by {stopped}: '
                              f'{what}; nothing complete is lost. Run the '
                              'same command to continue.'))
