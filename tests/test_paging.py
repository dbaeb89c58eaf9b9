"""paging: a long list counted up to the cap and paged through those rows alone."""

from sqlalchemy import select

from referral import paging
from referral.models import City


def test_the_last_page_stops_at_the_cap_when_pages_do_not_divide_it(
    app, ctx, directory, monkeypatch
):
    monkeypatch.setattr(paging, "COUNT_CAP", 5)
    cities = select(City).order_by(City.id)
    first_six = [city.id for city in paging.db.session.scalars(cities.limit(6))]
    pages = [paging.page_of(cities, number, per_page=2) for number in (1, 2, 3, 4)]
    assert [(page.number, page.total, page.capped) for page in pages] == [
        (1, 5, True),
        (2, 5, True),
        (3, 5, True),
        (3, 5, True),  # past the cap: its last page
    ]
    shown = [city.id for page in pages[:3] for city in page.items]
    assert shown == first_six[:5]  # the sixth row is past the count the page shows
