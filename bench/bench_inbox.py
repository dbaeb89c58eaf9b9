"""The staff inbox with 100,000 referrals in the database: GET /staff/ through the test client,
signed in as staff of the busiest organisation. Target: median under 150 ms.

``.venv/bin/python bench/bench_inbox.py [--database-url URL] [--runs N]``
"""

import sys

from common import (
    bulk_referrals,
    dialect_of,
    load_demo_accounts_in_english,
    machine,
    make_app,
    parse_args,
    signed_in_client,
    time_pages,
)
from sqlalchemy import func, or_, select

from referral.extensions import db
from referral.models import Organisation, Referral

REFERRALS = 100_000
TARGET_MS = 150


def busiest(app) -> tuple[str, int]:
    """The organisation with the most referrals offered to, held by or sent by it."""
    with app.app_context():
        counts = []
        for org in db.session.scalars(select(Organisation)):
            mine = or_(
                Referral.organisation_id == org.id, Referral.referring_organisation_id == org.id
            )
            counts.append((db.session.scalar(select(func.count()).where(mine)), org.slug, org.id))
        count, slug, _id = max(counts)
        return slug, count


def main() -> int:
    args = parse_args(__doc__)
    app = make_app(args.database_url)
    print(f"{dialect_of(app)} · {machine()}")
    bulk_referrals(app, REFERRALS)
    load_demo_accounts_in_english(app)
    slug, count = busiest(app)
    client = signed_in_client(app, f"staff@{slug}.example")
    print(f"{REFERRALS:,} referrals; signed in as staff of {slug} ({count:,} of them its own)")

    medians = time_pages(
        client,
        (
            ("inbox", "/staff/"),
            ("inbox, last page of sent by us", f"/staff/?sent_page={count // 25}"),
            ("inbox filtered by need and state", "/staff/?specialism=legal&state=closed"),
            ("inbox searched by reference", "/staff/?reference=AAA-AAA"),
            ("inbox searched by phone", "/staff/?reference=%2B48+600+001+002"),
        ),
        args.runs,
        width=36,
    )
    worst = medians["inbox"]
    verdict = "OK" if worst < TARGET_MS else "SLOWER THAN TARGET"
    print(f"  target: the inbox under {TARGET_MS} ms: {verdict}")
    return 0 if worst < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
