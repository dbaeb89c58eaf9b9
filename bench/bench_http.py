"""Intake, the empty form and the home page over HTTP, beside the stack's ceiling.

Both apps run under gunicorn with the project's gunicorn.conf.py and 2 workers; wrk sends the
load with 16 connections. Each round measures, one after the other: the bare app's intake
(bench/bare_app.py: Flask + Flask-SQLAlchemy storing one row of the same columns) and Referral's
intake (a CSRF-valid form with two needs, from a different person each time, each need stored,
routed and mailed; the rate limit raised, counted in Redis as with several workers in
production); then a bare page of the size of the
empty form and the form itself; then a bare page of the size of the home page and the home page.
The figure that counts is each ratio to its ceiling, the median over the rounds.

Needs wrk (Debian: ``apt-get install wrk``) and Redis on 127.0.0.1:6379 (db 13 is used).

``.venv/bin/python bench/bench_http.py [--database-url URL] [--runs N] [--seconds S]``
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from contextlib import ExitStack, contextmanager
from pathlib import Path

from common import bulk_referrals, dialect_of, machine, make_app, parse_args
from sqlalchemy import func, select

from referral.extensions import db
from referral.models import HelpRequest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
EXISTING = 10_000
CONNECTIONS = 16
# Each submission is a different person: a phone number made of the round, wrk's thread and a
# counter (the same number twice would join the open request as "asked again", not be intake).
PHONE_SLOT = "+48 5RTNNNNNN"
DIGITS_SLOT = "RTNNNNNN"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
FORM = {
    "needs": ["legal", "housing"],
    "city": "warszawa",
    "languages": ["uk", "ru"],
    "name": "Olena",
    "phone": PHONE_SLOT,
    "contact_channel": "phone",
    "description": "I need advice about my residence permit and a place to stay. " * 5,
    "urgency": "normal",
    "consent": "y",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def gunicorn(app: str, env: dict[str, str], log: Path, chdir: Path = ROOT):
    """A gunicorn with 2 workers serving ``app``; yields its base URL."""
    port = free_port()
    command = [GUNICORN, "-c", str(ROOT / "gunicorn.conf.py"), "-w", "2", "-b", f"127.0.0.1:{port}"]
    command += ["--access-logfile", str(log), "--chdir", str(chdir), app]
    with open(log.with_suffix(".err"), "w") as errors:
        server = subprocess.Popen(command, env={**os.environ, **env}, stderr=errors)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{url}/healthz" if "referral" in app else f"{url}/page/1")
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError(f"{app} did not start: see {log.with_suffix('.err')}")
        yield url
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)


def wrk(url: str, seconds: int, script: Path | None = None) -> tuple[float, int]:
    """Requests per second, and how many answers were not 2xx or 3xx."""
    command = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", url]
    if script:
        command[1:1] = ["-s", str(script)]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rate, int(bad.group(1)) if bad else 0


def post_script(folder: Path, body: str, cookie: str = "", round_: int = 0) -> Path:
    """A wrk script that POSTs ``body`` as a form, with ``cookie`` if given, its phone number
    made anew for each request (``PHONE_SLOT``)."""
    script = folder / f"post-{len(list(folder.glob('post-*')))}.lua"
    lines = [
        'wrk.method = "POST"',
        'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"',
        f'wrk.headers["Cookie"] = "{cookie}"' if cookie else "",
        f"local body = {body!r}".replace("'", '"'),
        f'local from, to = body:find("{DIGITS_SLOT}", 1, true)',
        "local threads = 0",
        'function setup(thread) thread:set("tid", threads); threads = threads + 1 end',
        "local sent = 0",
        "function request()",
        "  sent = sent + 1",
        f'  local digits = string.format("{round_ % 10}%d%06d", tid, sent)',
        "  return wrk.format(nil, nil, nil, body:sub(1, from - 1) .. digits .. body:sub(to + 1))",
        "end",
    ]
    script.write_text("\n".join(lines) + "\n")
    return script


def csrf_session(url: str) -> tuple[str, str]:
    """A session cookie and the CSRF token of the form it was given, as a browser gets them."""
    with urllib.request.urlopen(f"{url}/uk/request") as response:
        html = response.read().decode()
        cookie = response.headers["Set-Cookie"].split(";", 1)[0]
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
    return cookie, token


def size_of(url: str) -> int:
    with urllib.request.urlopen(url) as response:
        return len(response.read())


def main() -> int:
    args = parse_args(__doc__.splitlines()[0])
    if shutil.which("wrk") is None:
        print("wrk is not installed: on Debian or Ubuntu, `apt-get install wrk`.")
        return 2
    seconds = int(os.environ.get("BENCH_SECONDS", "8"))
    app = make_app(args.database_url)
    with app.app_context():
        database_url = db.engine.url.render_as_string(hide_password=False)
    bulk_referrals(app, EXISTING)
    os.environ["BENCH_DATABASE_URL"] = database_url
    sys.path.insert(0, str(HERE))
    import bare_app

    with bare_app.app.app_context():
        bare_app.db.create_all()
    print(f"HTTP benchmark — {dialect_of(app)} · {machine()}")
    print(f"  gunicorn 2 workers, wrk {CONNECTIONS} connections, {seconds} s a measurement")

    folder = Path(tempfile.mkdtemp(prefix="referral-http-"))
    env = {
        "DATABASE_URL": database_url,
        "BENCH_DATABASE_URL": database_url,
        "SECRET_KEY": "bench-secret",
        "REDIS_URL": REDIS_URL,
        "INTAKE_RATE_LIMIT": "1000000 per hour",
        "PYTHONPATH": str(ROOT),
        # The keys the bulk data were encrypted with.
        "DATA_KEYS": app.config["DATA_KEYS"],
        "MATCH_KEY": app.config["MATCH_KEY"],
    }
    results: dict[str, list[float]] = {}
    with ExitStack() as stack:
        bare = stack.enter_context(gunicorn("bare_app:app", env, folder / "bare.log", HERE))
        ours = stack.enter_context(gunicorn("referral:create_app()", env, folder / "ours.log"))
        cookie, token = csrf_session(ours)
        ours_body = urllib.parse.urlencode({**FORM, "csrf_token": token}, doseq=True)
        bare_body = urllib.parse.urlencode(FORM, doseq=True)
        form_size, home_size = size_of(f"{ours}/uk/request"), size_of(f"{ours}/uk/")
        for run in range(args.runs):
            bare_post = post_script(folder, bare_body, round_=run)
            ours_post = post_script(folder, ours_body, cookie, round_=run)
            pairs = [
                ("intake", (f"{bare}/intake", bare_post), (f"{ours}/uk/request", ours_post)),
                ("empty form", (f"{bare}/page/{form_size}", None), (f"{ours}/uk/request", None)),
                ("home page", (f"{bare}/page/{home_size}", None), (f"{ours}/uk/", None)),
            ]
            for label, (bare_url, bare_script), (our_url, our_script) in pairs:
                ceiling, bad_bare = wrk(bare_url, seconds, bare_script)
                rate, bad = wrk(our_url, seconds, our_script)
                if bad or bad_bare:
                    raise RuntimeError(f"{label}: {bad} of ours, {bad_bare} bare not 2xx/3xx")
                results.setdefault(f"{label} ceiling", []).append(ceiling)
                results.setdefault(label, []).append(rate)
                results.setdefault(f"{label} ratio", []).append(rate / ceiling)
                print(f"  run {run + 1} {label:<11} {rate:7.0f}/s beside {ceiling:7.0f}/s bare")
    with app.app_context():
        stored = db.session.scalar(select(func.count()).select_from(HelpRequest)) - EXISTING
    print(f"  {stored:,} requests stored through the intake")
    print(f"  pages: empty form {form_size:,} bytes, home {home_size:,} bytes")
    ok = True
    for label, *_ in pairs:
        ratio = statistics.median(results[f"{label} ratio"])
        ok &= ratio >= 0.5
        print(
            f"  {label:<11} median {statistics.median(results[label]):6.0f}/s, ceiling "
            f"{statistics.median(results[f'{label} ceiling']):6.0f}/s: {ratio:4.0%} of the ceiling"
        )
    print(f"  target: each at least 50 % of its ceiling: {'yes' if ok else 'NO'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
