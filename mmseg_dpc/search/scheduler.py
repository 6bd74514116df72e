"""The proxy search's scheduling: ask -> admit -> prepare -> launch ->
collect -> tell, with one trial prepared ahead so a freed slot starts the
next trial at once, until ``num_trials`` trials are evaluated (complete, or
stopped by the pruner); and its progress, as a value
(:meth:`TrialScheduler.progress`)."""
from __future__ import annotations

import os.path as osp
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

import optuna

from . import interrupt
from .ledger import StudyLedger
from .optuna_adapter import OptunaSpaceAdapter
from .progress import SearchProgress
from .record import FAILED, PRUNED, TrialRecord
from .runner import TrialRun, TrialRunner, trial_dir_name
from .settings import SearchSettings
from .study_view import STOPPED, TRIAL_ERROR


def record_wall(run: TrialRun) -> float:
    """Seconds since ``run`` started (0 where it never did)."""
    return time.time() - run.started if run.started else 0.0


class SearchStopped(RuntimeError):
    """The search ended early (its failure budget was spent)."""


@dataclass
class _Prepared:
    trial: optuna.Trial
    run: TrialRun


class TrialScheduler:
    """Keeps the runner's slots busy with admitted trials until the study
    holds ``num_trials`` evaluated ones (complete or pruned).

    Args:
        settings: the search settings.
        ledger: the study.
        runner: the proxy trial runner.
        adapter: trial parameters <-> cells.
        cost: ``cell -> dict(params, flops)``.
        trials_dir: where trial folders go.
        max_iters: the proxy's training iterations (for the pruner).
    """

    def __init__(self, settings: SearchSettings, ledger: StudyLedger,
                 runner: TrialRunner, adapter: OptunaSpaceAdapter,
                 cost: Callable, trials_dir: str,
                 max_iters: Optional[int] = None) -> None:
        self.settings = settings
        self.ledger = ledger
        self.runner = runner
        self.adapter = adapter
        self.distributions = adapter.distributions()
        self.cost = cost
        self.trials_dir = trials_dir
        self.trials: Dict[object, optuna.Trial] = {}  # launched, by run key
        self.prepared: Optional[_Prepared] = None
        self.max_iters = max_iters
        self._walls: List[float] = []  # of this session's complete trials
        # trials that ended as a signal came, told by :meth:`interrupt`
        self._collected: List[Tuple[TrialRun, TrialRecord]] = []

    def done(self) -> bool:
        return (self.ledger.counts().evaluated >= self.settings.num_trials
                and not self.runner.running and self.prepared is None)

    def progress(self, start: float) -> SearchProgress:
        """The search since ``start`` (a time): counts, the best trial,
        and the ETA (each running trial: the mean trial time less its time
        so far; the rest in full, spread over the workers)."""
        st = self.settings
        counts, best = self.ledger.counts(), self.ledger.best()
        now, eta = time.time(), None
        left = st.num_trials - counts.evaluated
        if self._walls and left > 0:
            mean = sum(self._walls) / len(self._walls)
            running = [max(mean - (now - r.started), 0.0)
                       for r in self.runner.running.values() if r.started]
            queued = max(left - len(running), 0) * mean
            eta = (sum(running) + queued) / self.runner.launcher.workers
        # the prefetched trial is RUNNING in the study but not started yet
        prepared = self.prepared is not None
        pruning = st.pruner is not None
        return SearchProgress(
            evaluated=counts.evaluated, num_trials=st.num_trials,
            running=counts.running - prepared, prepared=prepared,
            failed=counts.failed,
            pruned=counts.pruned if pruning else None,
            saved=sum(self.max_iters - s for s in self.ledger.stops())
            if pruning else None,
            objective=st.objectives[0]['name'],
            best_trial=best.number if best else None,
            best_value=best.value if best else None,
            best_arch_hash=best.arch_hash if best else None,
            elapsed=now - start, eta=eta)

    def step(self) -> Tuple[int, int]:
        """One round: fail stale and orphaned trials, tell finished ones,
        start new ones; returns ``(finished, started)``."""
        for record in self.ledger.fail_stale():
            print(f'[search] trial {record.trial} failed: {record.error}')
            self._write_stale_record(record)
        self.ledger.fail_orphans()
        finished = self.runner.collect()
        if interrupt.received():  # they may have died of the signal: the
            self._collected.extend(finished)  # interrupt tells them
            interrupt.check()
        for run, record in finished:
            self._tell(run, record)
        if finished:
            self._check_failure_budget()
        return len(finished), self._fill()

    def wait(self, timeout: float) -> None:
        """Until a trial ends, or ``timeout`` seconds."""
        self.runner.wait(timeout)

    # --- starting trials ------------------------------------------------
    def _prepare(self) -> Optional[str]:
        """Ask for a trial, admit it and write its config; returns why it
        was skipped, if it was."""
        trial = self.ledger.ask(self.distributions)
        arch = self.adapter.from_params(trial.params)
        cost = self.cost(arch.branches)
        reason = self.ledger.admit(trial, arch, cost)
        if reason is not None:
            if not reason.startswith('quota'):
                print(f'[search] trial {trial.number} ({arch.hash}) '
                      f'skipped: {reason}')
            return reason
        run_dir = osp.join(self.trials_dir, trial_dir_name(trial.number,
                                                           arch))
        self.ledger.set_trial_dir(trial, run_dir)
        pruner = self.settings.pruner
        report = None if pruner is None else dict(  # in the trial's config
            study_name=self.settings.study_name,
            trial_id=self.ledger.trial_id(trial),
            pruner=pruner.to_dict(), max_iters=self.max_iters)
        run = TrialRun(trial.number, trial.number, arch, run_dir, cost,
                       report)
        try:
            self.runner.prepare(run)
        except Exception as e:  # this trial fails, the search goes on
            self._fail(trial, run.record(0.0, error=f'cannot write config: '
                                         f'{e}'), TRIAL_ERROR)
            return None
        self.prepared = _Prepared(trial, run)
        return None

    def _fill(self) -> int:
        """Start the prepared trial in each free slot, keeping one prepared
        while the quota allows; returns how many started."""
        started = skips = 0
        while True:
            if self.prepared is not None:
                if self.runner.free_slots <= 0:
                    return started
                p, self.prepared = self.prepared, None
                self.runner.launch(p.run)
                self.trials[p.run.key] = p.trial
                started += 1
                print(f'[search] trial {p.trial.number} ({p.run.arch.hash}) '
                      f'started: {p.run.arch}')
                continue
            counts = self.ledger.counts()
            if counts.evaluated + counts.running >= self.settings.num_trials:
                return started
            reason = self._prepare()
            if reason and reason.startswith('quota'):
                return started  # another driver's trial is admitted
            skips = skips + 1 if reason else 0
            if skips >= 1000:
                raise RuntimeError(
                    '1000 samples in a row were duplicates or infeasible: '
                    'the space (or its feasible part) has fewer '
                    'architectures than num_trials')

    # --- outcomes ---------------------------------------------------------
    def _tell(self, run: TrialRun, record: TrialRecord) -> None:
        trial = self.trials.pop(run.key)
        if record.status == FAILED:
            self._fail(trial, record, TRIAL_ERROR)
            return
        if record.status == PRUNED:
            if not self.ledger.prune(trial, record):
                record.failed_elsewhere(self._elsewhere(
                    trial, f'it was pruned at iteration {record.stopped_at}'))
            record.write()
            print(f'[search] trial {run.number} ({run.arch.hash}) pruned at '
                  f'iteration {record.stopped_at}: mIoU '
                  f'{record.metrics.get("mIoU", float("nan")):.2f}')
            return
        if not self.ledger.complete(trial, record):
            record.failed_elsewhere(self._elsewhere(
                trial, f'it completed: mIoU {record.metrics.get("mIoU")}'))
            record.write()
            print(f'[search] trial {run.number} ({run.arch.hash}) '
                  f'completed, but {record.error}')
            return
        record.write()
        self._walls.append(record.wall_time)
        print(f'[search] trial {run.number} ({run.arch.hash}) complete: '
              f'mIoU {record.metrics.get("mIoU", float("nan")):.2f}, '
              f'{record.flops / 1e6:.1f} MFLOPs, {record.wall_time:.1f}s')

    def _fail(self, trial: optuna.Trial, record: TrialRecord,
              failure: str) -> None:
        """Fail ``trial`` with ``record``'s error in the study (which
        retries it) and in its result.json."""
        if not self.ledger.fail(trial, record, failure):
            record.error = self._elsewhere(trial, record.error)
        record.write()
        print(f'[search] trial {trial.number} ({record.arch_hash}) FAILED: '
              f'{record.error.splitlines()[0] if record.error else ""}')

    def _elsewhere(self, trial: optuna.Trial, outcome: str) -> str:
        """The error of a trial the study failed while this driver ran it
        (stale, failed by another driver), with what it really did."""
        return (f'{self.ledger.error_of(trial)}; the study failed it while '
                f'it ran here, so its outcome is not recorded ({outcome})')

    @staticmethod
    def _write_stale_record(stale: TrialRecord) -> None:
        """The FAILED result.json of a stale trial (the study's record of
        it), where its folder is on this machine."""
        run_dir = stale.run_dir
        if run_dir and osp.isdir(run_dir) and stale.arch is not None:
            TrialRecord.build(stale.trial, stale.arch, run_dir,
                              dict(params=stale.params, flops=stale.flops),
                              0.0, error=stale.error).write()

    def _check_failure_budget(self) -> None:
        """Raise :class:`SearchStopped` once the trials that finished since
        this driver started pass the failure budget."""
        o = self.ledger.outcomes()
        why = self.settings.failure_budget.spent(o.finished, o.failed,
                                                 o.consecutive)
        if why is None:
            return
        number, error = o.last_failure
        lines = [line.strip() for line in error.splitlines() if line.strip()]
        error = ' ... '.join(lines[:1] + lines[-1:] if len(lines) > 1 else
                             lines)  # for a traceback: the exception
        raise SearchStopped(
            f'search stopped: {why}; the last failure, trial {number}: '
            f'{error}\nThe {self.ledger.counts().complete} complete '
            'trials are kept: fix the cause (see the trial\'s train.log) '
            'and run the same command again to continue.')

    def _end_all(self) -> List[Tuple[optuna.Trial, TrialRun, float]]:
        """Kill this driver's running trials and drop the prepared one;
        each with its wall time so far."""
        runs = self.runner.stop()
        pending = [(self.trials.pop(r.key), r) for r in runs]
        if self.prepared is not None:
            pending.append((self.prepared.trial, self.prepared.run))
            self.prepared = None
        return [(trial, run, record_wall(run)) for trial, run in pending]

    def interrupt(self, why: str) -> int:
        """End this driver's trials (running, prepared) and put them back
        in the study as waiting (see :meth:`~.ledger.StudyLedger.interrupt`),
        each result.json INTERRUPTED with ``why``; returns how many. Trials
        that had ended keep their outcome, but a failed one counts as
        interrupted: the signal may have reached it too."""
        ended, self._collected = self._collected + self.runner.collect(), []
        failed = []
        for run, record in ended:
            if record.status == FAILED:
                failed.append(run)
            else:
                self._tell(run, record)
        pending = [(self.trials.pop(run.key), run, record_wall(run))
                   for run in failed] + self._end_all()
        put_back = 0
        for trial, run, wall in pending:
            record = run.record(wall)
            record.interrupted(why)
            try:
                if self.ledger.interrupt(trial):
                    record.write()
                    put_back += 1
            except Exception as e:  # the storage itself may be the cause
                print(f'[search] could not put trial {trial.number} back: '
                      f'{type(e).__name__}: {e}')
        return put_back

    def stop(self, why: str) -> None:
        """End this driver's trials (running, prepared) as failed with
        ``why``, and retry them: a later run continues where this one
        stopped."""
        for trial, run, wall in self._end_all():
            try:
                self._fail(trial, run.record(wall, error='the search '
                                             f'stopped: {why}'), STOPPED)
            except Exception as e:  # the storage itself may be the cause
                print(f'[search] could not fail trial {trial.number}: '
                      f'{type(e).__name__}: {e}')
