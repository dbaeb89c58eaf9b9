"""The rule of issue 13.6 on its own: a need asked again while open joins the oldest open referral
for it; every other need is new."""

from hypothesis import given
from hypothesis import strategies as st

from referral.duplicates import OpenNeed, split_needs
from referral.vocabulary import Specialism

needs = st.lists(st.sampled_from([s.value for s in Specialism]), max_size=12)
open_needs = st.lists(
    st.builds(
        OpenNeed,
        specialism=st.sampled_from([s.value for s in Specialism]),
        referral_id=st.integers(1, 10_000),
        request_id=st.integers(1, 50),
    ),
    max_size=12,
    unique_by=lambda n: n.referral_id,
)


@given(needs, open_needs)
def test_each_need_asked_is_either_new_or_joined_once_in_the_order_asked(asked, already_open):
    split = split_needs(asked, already_open)
    assert split.new + [n for n in dict.fromkeys(asked) if n in split.joined] == [
        n for n in dict.fromkeys(asked) if n not in split.joined
    ] + [n for n in dict.fromkeys(asked) if n in split.joined]
    assert set(split.new) | set(split.joined) == set(asked)
    assert not set(split.new) & set(split.joined)
    assert split.new == [n for n in dict.fromkeys(asked) if n not in split.joined]


@given(needs, open_needs)
def test_a_need_joins_only_the_oldest_open_referral_for_the_same_need(asked, already_open):
    split = split_needs(asked, already_open)
    for need, joined in split.joined.items():
        same = [n for n in already_open if n.specialism == need]
        assert joined == min(same, key=lambda n: n.referral_id)
    open_kinds = {n.specialism for n in already_open}
    assert all(need not in open_kinds for need in split.new)
    assert split.earlier_requests == sorted({n.request_id for n in split.joined.values()})


def test_nothing_open_makes_every_need_new():
    assert split_needs(["legal", "housing", "legal"], []).new == ["legal", "housing"]
