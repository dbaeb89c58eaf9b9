"""The staff inbox with 100,000 referrals in the database: GET /staff/ through the test client,
signed in as staff of the busiest organisation. Target: median under 150 ms. The database is
ANALYZEd after the bulk insert, as a live one would be by autovacuum.

``.venv/bin/python bench/bench_inbox.py [--database-url URL] [--runs N]``
"""

import sys

from common import bulk_referrals, dialect_of, machine, make_app, median_ms, parse_args
from sqlalchemy import func, or_, select, text

from referral import seed
from referral.extensions import db
from referral.models import Organisation, Referral, User

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
    app.config["WTF_CSRF_ENABLED"] = False  # the sign-in below posts without a page
    print(f"{dialect_of(app)} · {machine()}")
    bulk_referrals(app, REFERRALS)
    with app.app_context():
        seed.load_demo_accounts()
        db.session.execute(db.update(User).values(language="en"))
        db.session.commit()
        # Planner statistics, as autovacuum would have gathered them on a live database.
        db.session.execute(text("ANALYZE"))
        db.session.commit()
    slug, count = busiest(app)
    client = app.test_client()
    signed_in = client.post(
        "/login", data={"email": f"staff@{slug}.example", "password": seed.DEMO_PASSWORD}
    )
    assert signed_in.status_code == 302, "sign-in failed"
    print(f"{REFERRALS:,} referrals; signed in as staff of {slug} ({count:,} of them its own)")

    worst = 0.0
    for label, url in (
        ("inbox", "/staff/"),
        ("inbox, last page of sent by us", f"/staff/?sent_page={count // 25}"),
        ("inbox filtered by need and state", "/staff/?specialism=legal&state=closed"),
        ("inbox searched by reference", "/staff/?reference=AAA-AAA"),
    ):
        response = client.get(url)  # warm-up: templates compiled, caches filled
        assert response.status_code == 200, (url, response.status_code)
        ms = median_ms(lambda url=url: client.get(url), args.runs)
        worst = max(worst, ms) if label == "inbox" else worst
        print(f"  {label:<36} median {ms:7.1f} ms over {args.runs} runs")
    verdict = "OK" if worst < TARGET_MS else "SLOWER THAN TARGET"
    print(f"  target: the inbox under {TARGET_MS} ms: {verdict}")
    return 0 if worst < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
