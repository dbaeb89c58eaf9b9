"""The worker's bookkeeping when several workers run the same job at the same moment, on SQLite
and PostgreSQL."""

import threading
from datetime import timedelta

from sqlalchemy import select

from referral import worker
from referral.extensions import db
from referral.models import WorkerJob, utcnow

from .test_concurrency import race, race_app  # noqa: F401  (fixtures)


def test_two_workers_finishing_a_job_first_run_at_once_both_record_it(race):  # noqa: F811
    """Two workers started together run each job for the first time together: both insert the
    job's first record, and neither may crash on the other's."""
    together = threading.Barrier(2, timeout=30)

    @worker.register("test_first_run", every=timedelta(minutes=1))
    def _job() -> str:
        together.wait()  # both have run the job; now both record it
        return "done"

    outcomes, errors = [], []

    def run() -> None:
        with race.app_context():
            try:
                outcomes.append(worker.run_job("test_first_run", reraise=True))
            except Exception as error:  # the failure this test is about
                errors.append(error)
            finally:
                db.session.remove()

    try:
        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        del worker.JOBS["test_first_run"]

    assert errors == [] and outcomes == ["done", "done"]
    with race.app_context():
        (row,) = db.session.scalars(select(WorkerJob).where(WorkerJob.name == "test_first_run"))
        assert row.last_outcome == "done"


def started_at(app) -> dict:
    with app.app_context():
        return dict(db.session.execute(select(WorkerJob.name, WorkerJob.last_started_at)).all())


def test_once_from_cron_runs_only_the_jobs_that_are_due(app, directory):
    """Cron runs ``worker --once`` every minute: it ran every job every time, the six-hourly purge
    and the ten-minute tally included. Each now runs when its last start, by any worker, is old
    enough."""
    runner = app.test_cli_runner()
    assert runner.invoke(args=["worker", "--once"]).exit_code == 0
    first = started_at(app)
    assert set(first) == set(worker.JOBS)
    assert runner.invoke(args=["worker", "--once"]).exit_code == 0
    assert started_at(app) == first  # nothing was due a moment later
    with app.app_context():  # the tally last started 9 min 40 s ago, the purge 5 hours ago
        for name, ago in (
            ("tally", timedelta(minutes=9, seconds=40)),
            ("purge", timedelta(hours=5)),
        ):
            job = db.session.get(WorkerJob, name)
            job.last_started_at = utcnow() - ago
        db.session.commit()
    assert runner.invoke(args=["worker", "--once"]).exit_code == 0
    again = started_at(app)
    assert again["tally"] > first["tally"]  # due, within cron's slack
    assert again["purge"] < first["purge"]  # not due for another hour
    assert again["sweep"] == first["sweep"]


def test_a_job_running_is_not_due_for_another_worker(app, directory, monkeypatch):
    """Its start is recorded as it starts: the next minute's cron worker, or one started in the
    same second, found the old start while a long purge ran and started it again."""
    seen_from_inside = []

    def purge_that_looks_again() -> str:
        seen_from_inside.append(worker._claim(worker.JOBS["purge"]))
        return "done"

    job = worker.Job("purge", timedelta(hours=6), purge_that_looks_again)
    monkeypatch.setitem(worker.JOBS, "purge", job)
    with app.app_context():
        assert worker.Worker([job]).run(once=True) == 0
    assert seen_from_inside == [False]


def test_once_says_a_failed_job_in_its_exit_status(app, directory, monkeypatch):
    """A failing job was logged and the command exited 0: cron (MAILTO) never heard of it."""

    def fails() -> str:
        raise RuntimeError("the tally broke")

    monkeypatch.setitem(worker.JOBS, "tally", worker.Job("tally", timedelta(minutes=10), fails))
    result = app.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 1
    assert started_at(app).keys() == worker.JOBS.keys()  # the others ran all the same


def test_a_run_that_found_nothing_to_do_stays_out_of_the_info_log(ctx, caplog):
    """An idle worker runs the mail, text and webhook jobs every 15 seconds: logged at INFO,
    their "Sent: 0" filled the journal with some 17,000 lines a day. What did something is
    still logged at INFO."""
    worker.register("test_idle", every=timedelta(seconds=15))(lambda: "Sent: 0, failed: 0")
    worker.register("test_busy", every=timedelta(seconds=15))(lambda: "Sent: 0, failed: 10")
    try:
        with caplog.at_level("INFO", logger="referral.worker"):
            worker.run_job("test_idle")
            worker.run_job("test_busy")
    finally:
        del worker.JOBS["test_idle"], worker.JOBS["test_busy"]
    assert [record.getMessage() for record in caplog.records] == [
        "job test_busy: Sent: 0, failed: 10"
    ]
