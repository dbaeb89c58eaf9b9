"""What encryption at rest costs per value: encrypting and decrypting one personal field (Fernet,
with the process's one cipher) and the keyed hash of a phone number and an e-mail, and a whole
request's personal fields as the intake writes them and a referral page reads them.

No database: the same figures on SQLite and PostgreSQL (``bench/run.py`` runs it on both anyway).
``.venv/bin/python bench/bench_personal_data.py [--runs N]``
"""

import statistics
import sys
import time

from common import machine, make_app, parse_args

from referral.personal_data import keyring, match_key

STORY = "I need advice about my residence permit and a place to stay. " * 5
FIELDS = ("Olena Kovalenko", "+48512345678", "olena@example.org", STORY, "temporary_protection")
REPEAT = 2_000


def per_call_us(function, runs: int) -> float:
    """The median over ``runs`` of the time of one call, in microseconds."""
    medians = []
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(REPEAT):
            function()
        medians.append((time.perf_counter() - start) / REPEAT * 1e6)
    return statistics.median(medians)


def main() -> int:
    args = parse_args(__doc__)
    app = make_app(args.database_url)
    print(machine())
    with app.app_context():
        keys = keyring()
        token = keys.encrypt(STORY)
        tokens = [keys.encrypt(value) for value in FIELDS]
        figures = {
            "encrypt one field (a 300-character story)": per_call_us(
                lambda: keys.encrypt(STORY), args.runs
            ),
            "decrypt one field (the same story)": per_call_us(
                lambda: keys.decrypt(token), args.runs
            ),
            "keyed hash of a phone number (with E.164)": per_call_us(
                lambda: match_key("phone", "+48 512 345 678"), args.runs
            ),
            "keyed hash of an e-mail": per_call_us(
                lambda: match_key("email", "Olena@Example.org"), args.runs
            ),
            "a request's 5 fields and 2 hashes, written": per_call_us(
                lambda: (
                    [keys.encrypt(value) for value in FIELDS],
                    match_key("phone", FIELDS[1]),
                    match_key("email", FIELDS[2]),
                ),
                args.runs,
            ),
            "a request's 5 fields, read": per_call_us(
                lambda: [keys.decrypt(value) for value in tokens], args.runs
            ),
        }
    for what, microseconds in figures.items():
        print(f"  {what:<45} median {microseconds:7.1f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
