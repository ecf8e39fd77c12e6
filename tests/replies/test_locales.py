from datetime import UTC, datetime

import pytest

from csdesk import Money
from csdesk.replies import locale_chain, maximize, render_string

NOW = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)

VARIANTS = {
    "zh-Hans": "您好，已为您退款 {{ amount|money }}。",
    "en": "Hello, we have refunded {{ amount|money }}.",
}


def test_traditional_never_falls_back_to_simplified() -> None:
    chain = locale_chain("zh-Hant-TW", available=VARIANTS)
    assert chain.text_locale == "en"
    assert chain.format_locale == "zh_Hant_TW"
    assert "zh_Hans" not in chain.chain
    text = render_string(
        VARIANTS["en"], {"amount": Money("1234.50", "CNY")}, locale=chain.format_locale, now=NOW
    ).text
    assert text == "Hello, we have refunded CN¥1,234.50."  # English words, Taiwan's formats


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("zh-TW", "zh_Hant"),
        ("zh-HK", "zh_Hant"),
        ("zh-MO", "zh_Hant"),
        ("zh-CN", "zh_Hans"),
        ("zh-SG", "zh_Hans"),
        ("zh", "zh_Hans"),
        ("en-GB", "en"),
        ("de-AT", "en"),
        ("ja", "en"),
    ],
)
def test_choice_with_all_three_variants(tag: str, expected: str) -> None:
    assert locale_chain(tag, available=["zh-Hans", "zh-Hant", "en"]).text_locale == expected


def test_maximize() -> None:
    assert str(maximize("zh-TW")) == "zh_Hant_TW"
    assert str(maximize("zh")) == "zh_Hans_CN"
    assert str(maximize("en-GB")) == "en_GB"


def test_en_gb_walks_the_cldr_parent() -> None:
    assert locale_chain("en-GB", available=["en-001", "en"]).text_locale == "en_001"


def test_nothing_matches() -> None:
    chain = locale_chain("ja", available=["zh-Hans"], default="de")
    assert chain.text_locale is None
    assert chain.chain[-1] == "de"
