import copy
import pickle
from decimal import Decimal

import pytest

from csdesk import (
    AllocationError,
    CurrencyMismatchError,
    FloatNotAllowedError,
    InvalidAmountError,
    Money,
    PrecisionError,
    QuantityError,
    UnknownCurrencyError,
    UnknownLocaleError,
    allocate,
    currency_digits,
    prorate,
    sum_money,
)
from csdesk.errors import CsdeskError


def cny(amount: str) -> Money:
    return Money(amount, "CNY")


class TestConstruction:
    def test_point_one_plus_point_two_is_point_three(self) -> None:
        assert cny("0.1") + cny("0.2") == cny("0.3")

    @pytest.mark.parametrize(
        ("value", "expected"),
        [("12.30", "12.30"), (12, "12"), (Decimal("12.30"), "12.30"), (" 12.30 ", "12.30")],
    )
    def test_accepts_strings_ints_and_decimals(
        self, value: str | int | Decimal, expected: str
    ) -> None:
        money = Money(value, "CNY")
        assert money.amount == Decimal(expected)
        assert str(money.amount) == expected

    def test_float_is_refused_with_a_message_naming_floats(self) -> None:
        with pytest.raises(FloatNotAllowedError) as caught:
            Money(0.1, "CNY")  # type: ignore[arg-type]
        assert caught.value.code == "float_not_allowed"
        assert "float" in str(caught.value)
        assert "string" in str(caught.value)
        assert isinstance(caught.value, TypeError)
        assert isinstance(caught.value, CsdeskError)

    @pytest.mark.parametrize("value", ["abc", "", "NaN", "Infinity", "-inf", "1,000", None, []])
    def test_non_numbers_are_refused(self, value: object) -> None:
        with pytest.raises(InvalidAmountError):
            Money(value, "CNY")  # type: ignore[arg-type]

    @pytest.mark.parametrize("value", [True, False])
    def test_bools_are_refused(self, value: bool) -> None:
        with pytest.raises(InvalidAmountError, match="bool"):
            Money(value, "CNY")

    def test_decimal_nan_is_refused(self) -> None:
        with pytest.raises(InvalidAmountError):
            Money(Decimal("NaN"), "CNY")

    @pytest.mark.parametrize("code", ["ZZZ", "cny", "", "RMB", 156, None])
    def test_unknown_currency_raises(self, code: object) -> None:
        with pytest.raises(UnknownCurrencyError) as caught:
            Money("1", code)  # type: ignore[arg-type]
        assert caught.value.currency == code
        assert isinstance(caught.value, LookupError)

    def test_lower_case_code_hint(self) -> None:
        with pytest.raises(UnknownCurrencyError, match="'CNY'"):
            Money("1", "cny")

    def test_immutable(self) -> None:
        price = cny("1")
        with pytest.raises(AttributeError):
            price.amount = Decimal(2)  # type: ignore[misc]
        with pytest.raises(AttributeError):
            price.currency = "JPY"  # type: ignore[misc]
        with pytest.raises(AttributeError):
            price.note = "x"  # type: ignore[attr-defined]
        assert price == cny("1")

    def test_hashable_and_equal_across_exponents(self) -> None:
        assert {cny("1.0"), cny("1.00"), cny("1")} == {cny("1")}
        assert hash(cny("1.0")) == hash(cny("1.00"))

    def test_pickle_and_copy(self) -> None:
        price = cny("12.30")
        assert pickle.loads(pickle.dumps(price)) == price
        assert copy.copy(price) is price
        assert copy.deepcopy(price) is price

    def test_repr_and_str(self) -> None:
        assert repr(cny("12.30")) == "Money('12.30', 'CNY')"
        assert str(cny("12.30")) == "12.30 CNY"


class TestArithmetic:
    def test_add_sub_neg_abs(self) -> None:
        assert cny("10") - cny("2.5") == cny("7.5")
        assert -cny("3") == cny("-3")
        assert abs(cny("-3")) == cny("3")
        assert +cny("3") == cny("3")

    def test_mixed_currency_raises(self) -> None:
        with pytest.raises(CurrencyMismatchError) as caught:
            cny("1") + Money("1", "JPY")
        assert (caught.value.left, caught.value.right) == ("CNY", "JPY")
        assert caught.value.code == "currency_mismatch"

    @pytest.mark.parametrize(
        "operation",
        [
            lambda a, b: a - b,
            lambda a, b: a < b,
            lambda a, b: a <= b,
            lambda a, b: a > b,
            lambda a, b: a >= b,
            lambda a, b: a.ratio(b),
        ],
    )
    def test_every_mixed_operation_raises(self, operation) -> None:  # type: ignore[no-untyped-def]
        with pytest.raises(CurrencyMismatchError):
            operation(cny("1"), Money("1", "USD"))

    def test_equality_across_currencies_is_false_not_an_error(self) -> None:
        assert cny("1") != Money("1", "JPY")
        assert cny("1") != Decimal(1)

    def test_multiply_and_divide_by_numbers(self) -> None:
        assert cny("349.99") * 5 == cny("1749.95")
        assert 5 * cny("349.99") == cny("1749.95")
        assert cny("10") * Decimal("0.5") == cny("5")
        assert cny("10") * "0.5" == cny("5")  # type: ignore[operator]
        assert cny("10") / 4 == cny("2.5")
        assert cny("10") / Decimal(4) == cny("2.5")
        assert cny("10").ratio(cny("4")) == Decimal("2.5")

    def test_multiply_by_float_raises(self) -> None:
        with pytest.raises(FloatNotAllowedError, match="factor"):
            cny("10") * 1.5  # type: ignore[operator]
        with pytest.raises(FloatNotAllowedError, match="divisor"):
            cny("10") / 2.0  # type: ignore[operator]

    def test_money_times_money_is_a_type_error(self) -> None:
        with pytest.raises(TypeError):
            cny("1") * cny("2")  # type: ignore[operator]

    def test_add_a_number_is_a_type_error(self) -> None:
        with pytest.raises(TypeError):
            cny("1") + 1  # type: ignore[operator]
        with pytest.raises(TypeError):
            1 + cny("1")

    def test_comparisons(self) -> None:
        assert cny("1") < cny("2") <= cny("2") < cny("3")
        assert cny("3") > cny("2") >= cny("2")
        assert max(cny("1"), cny("5"), cny("3")) == cny("5")

    def test_builtin_sum_and_sum_money(self) -> None:
        parts = [cny("1.10"), cny("2.20")]
        assert sum(parts) == cny("3.30")
        assert sum_money(parts, "CNY") == cny("3.30")
        assert sum_money([], "JPY") == Money("0", "JPY")
        with pytest.raises(CurrencyMismatchError):
            sum_money([Money("1", "JPY")], "CNY")

    def test_zero_and_truthiness(self) -> None:
        assert Money.zero("CNY").amount.as_tuple().exponent == -2
        assert Money.zero("CNY").is_zero
        assert not Money.zero("CNY")
        assert cny("0.01")


class TestMinorUnits:
    @pytest.mark.parametrize(("code", "digits"), [("JPY", 0), ("CNY", 2), ("BHD", 3), ("KWD", 3)])
    def test_digits_from_cldr(self, code: str, digits: int) -> None:
        assert currency_digits(code) == digits
        assert Money("1", code).digits == digits

    def test_from_minor_and_minor_units(self) -> None:
        assert Money.from_minor(12250, "CNY") == cny("122.50")
        assert Money.from_minor(12250, "JPY") == Money("12250", "JPY")
        assert Money.from_minor(-1, "BHD") == Money("-0.001", "BHD")
        assert cny("122.5").minor_units == 12250
        assert Money("1.234", "BHD").minor_units == 1234

    def test_from_minor_refuses_non_ints(self) -> None:
        with pytest.raises(InvalidAmountError):
            Money.from_minor(1.0, "CNY")  # type: ignore[arg-type]

    def test_minor_units_refuses_sub_minor_amounts(self) -> None:
        with pytest.raises(PrecisionError) as caught:
            _ = cny("1.005").minor_units
        assert caught.value.digits == 2

    def test_quantize_names_the_rounding(self) -> None:
        assert cny("2.345").quantize() == cny("2.34")
        assert cny("2.355").quantize() == cny("2.36")
        assert cny("2.345").quantize("ROUND_HALF_UP") == cny("2.35")
        assert cny("2.349").quantize("ROUND_DOWN") == cny("2.34")
        assert Money("2.5", "JPY").quantize() == Money("2", "JPY")
        assert Money("1.0005", "BHD").quantize("ROUND_CEILING") == Money("1.001", "BHD")

    def test_quantize_refuses_unknown_modes(self) -> None:
        with pytest.raises(ValueError, match="ROUND_HALF_EVEN"):
            cny("1").quantize("HALF_EVEN")  # type: ignore[arg-type]


class TestFormat:
    def test_symbol_code_name_plain(self) -> None:
        assert cny("1234.5").format("zh-CN") == "¥1,234.50"
        assert cny("1234.5").format("zh_CN", style="code") == "CNY\xa01,234.50"
        assert cny("1234.5").format("zh-CN", style="name") == "1,234.50人民币"
        assert cny("1234.5").format("de-DE", style="plain") == "1.234,50"
        assert Money("1234", "JPY").format("ja-JP") == "￥1,234"

    def test_never_rounds(self) -> None:
        with pytest.raises(PrecisionError):
            cny("1.005").format("zh-CN")

    def test_unknown_locale(self) -> None:
        with pytest.raises(UnknownLocaleError) as caught:
            cny("1").format("xx-??")
        assert caught.value.locale == "xx-??"


class TestAllocate:
    def test_spreads_leftover_to_largest_remainders_ties_to_lower_index(self) -> None:
        assert allocate(cny("100"), [1, 1, 1]) == [cny("33.34"), cny("33.33"), cny("33.33")]
        assert allocate(cny("0.05"), [1, 1, 1, 1]) == [
            cny("0.02"),
            cny("0.01"),
            cny("0.01"),
            cny("0.01"),
        ]

    def test_money_weights_and_zero_weights(self) -> None:
        parts = allocate(cny("300"), [cny("799"), cny("0"), cny("1749.95")])
        assert parts == [cny("94.04"), cny("0.00"), cny("205.96")]
        assert sum(parts) == cny("300")

    def test_negative_total_is_split_symmetrically(self) -> None:
        assert allocate(cny("-100"), [1, 1, 1]) == [cny("-33.34"), cny("-33.33"), cny("-33.33")]

    def test_jpy_has_no_minor_unit(self) -> None:
        assert allocate(Money("10", "JPY"), [1, 1, 1]) == [
            Money("4", "JPY"),
            Money("3", "JPY"),
            Money("3", "JPY"),
        ]

    @pytest.mark.parametrize("weights", [[], [0, 0], [1, -1]])
    def test_bad_weights_raise(self, weights: list[int]) -> None:
        with pytest.raises(AllocationError):
            allocate(cny("1"), weights)

    def test_float_weight_raises(self) -> None:
        with pytest.raises(FloatNotAllowedError):
            allocate(cny("1"), [1.5, 1])  # type: ignore[list-item]

    def test_weight_in_another_currency_raises(self) -> None:
        with pytest.raises(CurrencyMismatchError):
            allocate(cny("1"), [Money("1", "JPY")])

    def test_total_finer_than_minor_unit_raises(self) -> None:
        with pytest.raises(PrecisionError):
            allocate(cny("1.005"), [1, 1])


class TestProrate:
    def test_the_shopify_thread_line(self) -> None:
        paid = cny("349.99") * 5 - cny("524.98")
        assert paid == cny("1224.97")
        shares = [
            prorate(paid, quantity=5, already=0, units=2),
            prorate(paid, quantity=5, already=2, units=1),
            prorate(paid, quantity=5, already=3, units=2),
        ]
        assert shares == [cny("489.99"), cny("244.99"), cny("489.99")]
        assert sum(shares) == cny("1224.97")

    def test_rounding_mode_is_applied_exactly(self) -> None:
        # 0.05 over 2 units: 0.025 each; half-even gives 0.02, half-up 0.03.
        assert prorate(cny("0.05"), quantity=2, already=0, units=1) == cny("0.02")
        assert prorate(cny("0.05"), quantity=2, already=0, units=1, rounding="ROUND_HALF_UP") == (
            cny("0.03")
        )

    @pytest.mark.parametrize(
        ("quantity", "already", "units"), [(0, 0, 0), (5, -1, 1), (5, 0, -1), (5, 4, 2)]
    )
    def test_counts_out_of_range_raise(self, quantity: int, already: int, units: int) -> None:
        with pytest.raises(QuantityError):
            prorate(cny("10"), quantity=quantity, already=already, units=units)

    def test_counts_must_be_ints(self) -> None:
        with pytest.raises(QuantityError):
            prorate(cny("10"), quantity=5, already=0, units=True)


_ZEROS_AND_OTHERS = ["0", "0.00", "-0.00", "-0", "5", "5.00", "-5.10", "0.001", "100", "0.0"]


@pytest.mark.parametrize("left", _ZEROS_AND_OTHERS)
@pytest.mark.parametrize("right", _ZEROS_AND_OTHERS)
def test_adding_or_subtracting_zero_is_exactly_the_decimal_result(left: str, right: str) -> None:
    # Money returns an operand itself for x + 0 and x - 0 of the same quantum: the digits, the
    # exponent and the sign must still be those decimal arithmetic gives.
    a, b = Money(Decimal(left), "CNY"), Money(Decimal(right), "CNY")
    for got, expected in ((a + b, Decimal(left) + Decimal(right)),
                          (a - b, Decimal(left) - Decimal(right))):  # fmt: skip
        assert str(got.amount) == str(expected)
        assert got.amount.is_signed() == expected.is_signed()
