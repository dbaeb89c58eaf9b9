"""Background work in one process: ``flask --app referral worker`` runs each registered job when
it is due (the sweep, the outbox's e-mails and text messages, the webhooks, staff digests and
reminders, the reports' tallies, the retention purge), or each job due once with ``--once`` for
cron.

Several workers, on one machine or several, may run at once: each job is safe to run twice at the
same moment (the sweep and the mail sender skip the rows another worker holds). SIGTERM or SIGINT
lets the job in progress finish, then the worker stops. Each run is recorded in ``worker_job``
(start, end, outcome), which ``/healthz`` reports.
"""

from __future__ import annotations

import logging
import re
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, text

from . import reminding
from .extensions import db, upsert_into
from .models import WorkerJob, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """A piece of background work: ``run`` does it and returns what it did, for the log."""

    name: str
    every: timedelta
    run: Callable[[], str]


JOBS: dict[str, Job] = {}


def register(name: str, every: timedelta) -> Callable[[Callable[[], str]], Callable[[], str]]:
    """Add a job to every worker: ``@register("sweep", every=timedelta(minutes=1))``."""

    def add(run: Callable[[], str]) -> Callable[[], str]:
        JOBS[name] = Job(name, every, run)
        return run

    return add


@register("sweep", every=timedelta(minutes=1))
def _sweep() -> str:
    from .lifecycle import expire_overdue

    expired = expire_overdue()
    if db.engine.dialect.name == "sqlite":
        # SQLite has no autovacuum: refresh the planner's statistics where they went stale.
        db.session.execute(text("PRAGMA optimize"))
    return f"Expired and re-routed: {expired}"


@register("send_mail", every=timedelta(seconds=15))
def _send_mail() -> str:
    from .mailer import deliver_pending

    return str(deliver_pending())


@register("send_sms", every=timedelta(seconds=15))
def _send_sms() -> str:
    from .sms import deliver_pending

    return str(deliver_pending())


@register("send_webhooks", every=timedelta(seconds=15))
def _send_webhooks() -> str:
    from .webhooks import deliver_pending

    return str(deliver_pending())


@register("tally", every=timedelta(minutes=10))
def _tally() -> str:
    from .report_tallies import advance_all

    return f"Months counted further for the reports: {advance_all()}"


register("remind", every=timedelta(minutes=5))(lambda: str(reminding.remind()))


@register("purge", every=timedelta(hours=6))
def _purge() -> str:
    from .accounts import forget_old_sign_ins
    from .erasure import forget_old_accesses, forget_old_deliveries, leave_no_trace, purge_ended
    from .lifecycle import withdraw_requests_open_too_long

    ended = purge_ended()
    open_too_long = withdraw_requests_open_too_long()
    forgotten = forget_old_accesses()
    sign_ins = forget_old_sign_ins()
    deliveries = forget_old_deliveries()
    leave_no_trace()
    return (
        f"Requests erased: {ended + open_too_long} ({ended} ended, {open_too_long} open too "
        f"long); openings of personal data forgotten: {forgotten}; sign-ins forgotten: {sign_ins}"
        f"; deliveries forgotten: {deliveries}"
    )


def _record(name: str, started: datetime, outcome: str) -> None:
    """Keep the job's last run, in one statement: two workers finishing the same job at once
    (both inserting its first row) must not fail."""
    run = {"last_started_at": started, "last_finished_at": utcnow(), "last_outcome": outcome[:200]}
    db.session.execute(
        upsert_into(WorkerJob)
        .values(name=name, **run)
        .on_conflict_do_update(index_elements=[WorkerJob.name], set_=run)
    )
    db.session.commit()


FAILED = "Failed: "  # how a failed run's outcome begins
_DID_SOMETHING = re.compile(r"[1-9]")  # in an outcome, which counts what its run did


def run_job(name: str, reraise: bool = False) -> str:
    """Run one job and record how it went. A failure is recorded and logged (its kind and
    stack, never its message) and the worker goes on with the next job; a command run from
    cron passes ``reraise`` to exit with an error."""
    started = utcnow()
    try:
        outcome = JOBS[name].run()
    except Exception as error:  # one failing job must not stop the others
        db.session.rollback()
        failure = f"{FAILED}{type(error).__name__}"
        _record(name, started, failure)
        if reraise:
            raise
        log.error("job %s failed: %s", name, type(error).__name__, exc_info=False)
        return failure
    _record(name, started, outcome)
    # A run whose every figure is 0 did nothing: the mail, text and webhook jobs run every 15 s.
    log.log(
        logging.INFO if _DID_SOMETHING.search(outcome) else logging.DEBUG,
        "job %s: %s",
        name,
        outcome,
    )
    return outcome


def last_finished(name: str) -> datetime | None:
    return db.session.scalar(select(WorkerJob.last_finished_at).where(WorkerJob.name == name))


class Worker:
    """Runs the jobs when due until told to stop (SIGTERM, SIGINT)."""

    def __init__(self, jobs: list[Job], tick: float = 1.0) -> None:
        self.jobs = jobs
        self.tick = tick
        self.stopping = False
        self.next_run = dict.fromkeys((job.name for job in jobs), 0.0)

    def stop(self, signum=None, frame=None) -> None:
        log.info("worker: stopping after the job in progress")
        self.stopping = True

    def run(self, once: bool = False) -> int:
        """Until told to stop; ``once``: each job due by its last start, whichever worker ran it
        (``_claim``: cron every minute runs the purge every six hours), then stop. How many jobs
        failed."""
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        log.info("worker: started (%s)", ", ".join(job.name for job in self.jobs))
        failed = 0
        while not self.stopping:
            for job in self.jobs:
                if self.stopping:
                    break
                due = _claim(job) if once else time.monotonic() >= self.next_run[job.name]
                if due:
                    failed += run_job(job.name).startswith(FAILED)
                    self.next_run[job.name] = time.monotonic() + job.every.total_seconds()
            if once:
                break
            time.sleep(self.tick)
        log.info("worker: stopped")
        return failed


def _claim(job: Job) -> bool:
    """Take the job's turn if it is due by its last start, whichever worker made it, in one
    statement that records this start: the next minute's cron worker, or one started the same
    second, finds it taken while it runs. The slack absorbs cron's minute and the drift of a job's
    start behind the ones before it (up to half its period, at most 30 s)."""
    now = utcnow()
    slack = min(job.every / 2, timedelta(seconds=30))
    statement = (
        upsert_into(WorkerJob)
        .values(name=job.name, last_started_at=now)
        .on_conflict_do_update(
            index_elements=[WorkerJob.name],
            set_={"last_started_at": now},
            where=or_(
                WorkerJob.last_started_at.is_(None),
                WorkerJob.last_started_at <= now - job.every + slack,
            ),
        )
        .returning(WorkerJob.name)
    )
    claimed = db.session.execute(statement).first() is not None
    db.session.commit()
    return claimed
