"""Hypothesis strategies for csdesk values, drawn from integer minor units (never from floats)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import strategies as st

from csdesk import Money

CURRENCIES = ("JPY", "CNY", "BHD", "EUR", "USD")
ANY_CURRENCY = st.sampled_from(CURRENCIES)


def money(
    currency: str | st.SearchStrategy[str] = ANY_CURRENCY,
    *,
    min_units: int = 0,
    max_units: int = 10**12,
) -> st.SearchStrategy[Money]:
    """Quantized amounts: an integer count of the currency's minor units."""
    codes = currency if isinstance(currency, st.SearchStrategy) else st.just(currency)
    return st.builds(Money.from_minor, st.integers(min_value=min_units, max_value=max_units), codes)


def weights(min_size: int = 1, max_size: int = 12) -> st.SearchStrategy[list[int | Decimal]]:
    """Non-negative weights, ints or Decimals with up to four decimals, at least one positive."""
    weight = st.one_of(
        st.integers(min_value=0, max_value=10**9),
        st.decimals(min_value=0, max_value=10**6, places=4, allow_nan=False, allow_infinity=False),
    )
    return st.lists(weight, min_size=min_size, max_size=max_size).filter(
        lambda ws: any(w > 0 for w in ws)
    )
