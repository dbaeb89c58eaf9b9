"""The wheel is the whole app: built from this checkout and installed in a fresh virtual
environment, it creates its database, loads the demo and serves all three languages from a
directory that has nothing to do with the checkout.

Slow by nature (a build and an install from the package index; about a minute with a warm pip
cache); skipped only when the package index cannot be reached."""

import os
import re
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
import venv
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
INDEX_URL = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple/")
# The installed app must find everything itself: nothing from this run's environment points it
# at the checkout or at the suite's database.
ENVIRONMENT = {
    name: value
    for name, value in os.environ.items()
    if name not in {"DATABASE_URL", "PYTHONPATH", "VIRTUAL_ENV"} and not name.startswith("FLASK_")
} | {
    # As in production: the keys of personal data come from the environment.
    "DATA_KEYS": Fernet.generate_key().decode(),
    "MATCH_KEY": secrets.token_urlsafe(32),
}


def _index_reachable() -> bool:
    try:
        with urllib.request.urlopen(f"{INDEX_URL.rstrip('/')}/flask/", timeout=10):  # noqa: S310
            return True
    except OSError:
        return False


def _run(*command: str | Path, cwd: Path) -> str:
    done = subprocess.run(  # noqa: S603 - our own commands, no shell
        [str(part) for part in command],
        cwd=cwd,
        env=ENVIRONMENT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"{command}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh virtual environment holding the wheel built from this checkout; its path."""
    if not _index_reachable():
        pytest.skip(f"the package index ({INDEX_URL}) is unreachable")
    dist = tmp_path_factory.mktemp("dist")
    # sdist first, then the wheel from the unpacked sdist: nothing left over in the checkout
    # (a stale build/ directory, compiled catalogues) can hide a file the package forgot.
    _run(sys.executable, "-m", "build", "--outdir", dist, ROOT, cwd=dist)
    (wheel,) = dist.glob("referral-*.whl")
    environment = tmp_path_factory.mktemp("venv")
    venv.create(environment, with_pip=True)
    _run(environment / "bin" / "python", "-m", "pip", "install", "--quiet", wheel, cwd=dist)
    return environment


@pytest.fixture(scope="module")
def elsewhere(tmp_path_factory) -> Path:
    """The directory the installed app is run from: empty, outside the checkout."""
    return tmp_path_factory.mktemp("elsewhere")


@pytest.fixture(scope="module")
def seeded(installed, elsewhere) -> dict[str, str]:
    """The installed app's database created and filled with the demo; each command's output."""
    flask = installed / "bin" / "flask"
    return {
        command: _run(flask, "--app", "referral", command, cwd=elsewhere)
        for command in ("init-db", "seed-demo")
    }


@pytest.fixture(scope="module")
def served(installed, elsewhere, seeded):
    """``flask run`` of the installed app on a free port; yields its base URL."""
    log_path = elsewhere.parent / "flask-run.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(  # noqa: S603 - our own command, no shell
            [str(installed / "bin" / "flask"), "--app", "referral", "run", "--port", "0"],
            cwd=elsewhere,
            env=ENVIRONMENT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield _announced_url(server, log_path)
    finally:
        server.terminate()
        server.wait(timeout=10)


def _announced_url(server: subprocess.Popen, log_path: Path) -> str:
    """The address ``flask run`` prints once it listens (port 0: the system picked it)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and server.poll() is None:
        announced = re.search(r"Running on (http://127\.0\.0\.1:\d+)", log_path.read_text())
        if announced:
            return announced.group(1)
        time.sleep(0.1)
    pytest.fail(f"flask run did not start:\n{log_path.read_text()}")


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_the_app_is_imported_from_the_installed_package_not_from_the_checkout(installed, elsewhere):
    source = _run(
        installed / "bin" / "python",
        "-c",
        "import referral; print(referral.__file__)",
        cwd=elsewhere,
    )
    assert Path(source.strip()).is_relative_to(installed)


def test_init_db_and_seed_demo_keep_the_database_in_the_instance_folder(
    installed, elsewhere, seeded
):
    assert "Database is up to date." in seeded["init-db"]
    assert "coordinator@konsorcjum.example" in seeded["seed-demo"]
    assert (installed / "var" / "referral-instance" / "referral.db").is_file()
    assert list(elsewhere.iterdir()) == []  # nothing written where it was run


ASK_FOR_HELP = {"pl": "Poproś o pomoc", "uk": "Звернутися по допомогу", "en": "Ask for help"}


@pytest.mark.parametrize("language", ASK_FOR_HELP)
def test_the_installed_app_serves_the_home_page_in_each_language(served, language):
    status, html = _get(f"{served}/{language}/")
    assert status == 200
    assert f'lang="{language}"' in html
    assert ASK_FOR_HELP[language] in html
    if language != "en":
        assert "Ask for help" not in html  # the compiled catalogue was found


def test_the_installed_app_serves_the_staff_sign_in_page(served):
    status, html = _get(f"{served}/login")
    assert status == 200
    assert 'name="password"' in html
