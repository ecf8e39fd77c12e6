from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from csdesk import Money, allocate, prorate
from tests import strategies as cs


@given(total=cs.money(st.sampled_from(["JPY", "CNY", "BHD"]), min_units=-(10**12)), data=st.data())
def test_allocate_conserves_and_stays_within_one_minor_unit(
    total: Money, data: st.DataObject
) -> None:
    weights = data.draw(cs.weights())
    parts = allocate(total, weights)
    assert len(parts) == len(weights)
    assert sum(parts, Money.zero(total.currency)) == total
    weight_sum = sum(Decimal(w) for w in weights)
    quantum = Decimal(1).scaleb(-total.digits)
    for part, weight in zip(parts, weights, strict=True):
        assert part.currency == total.currency
        assert part.is_quantized
        exact = total.amount * Decimal(weight) / weight_sum
        assert abs(part.amount - exact) < quantum
        if weight == 0:
            assert part.is_zero


@given(total=cs.money(min_units=0), data=st.data())
def test_allocate_is_monotonic_in_weight(total: Money, data: st.DataObject) -> None:
    weights = data.draw(cs.weights(min_size=2))
    parts = allocate(total, weights)
    for i in range(len(weights)):
        for j in range(len(weights)):
            if weights[i] > weights[j]:
                assert parts[i] >= parts[j]


@given(
    paid=cs.money(st.sampled_from(["JPY", "CNY", "BHD"]), max_units=10**10),
    quantity=st.integers(min_value=1, max_value=50),
    data=st.data(),
)
def test_partial_refunds_of_every_unit_sum_to_what_was_paid(
    paid: Money, quantity: int, data: st.DataObject
) -> None:
    already = 0
    shares = []
    while already < quantity:
        units = data.draw(st.integers(min_value=1, max_value=quantity - already))
        share = prorate(paid, quantity=quantity, already=already, units=units)
        exact = paid.amount * units / quantity
        # two roundings, each at most half a minor unit off
        assert abs(share.amount - exact) <= Decimal(1).scaleb(-paid.digits)
        shares.append(share)
        already += units
    assert sum(shares, Money.zero(paid.currency)) == paid


@given(a=cs.money("CNY", max_units=10**9), b=cs.money("CNY", max_units=10**9))
def test_arithmetic_matches_minor_unit_integers(a: Money, b: Money) -> None:
    assert (a + b).minor_units == a.minor_units + b.minor_units
    assert (a - b).minor_units == a.minor_units - b.minor_units
    assert (a < b) == (a.minor_units < b.minor_units)
    assert Money.from_minor(a.minor_units, "CNY") == a
