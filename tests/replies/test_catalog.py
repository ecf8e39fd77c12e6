from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from csdesk import Money, PolicyError, TemplateError
from csdesk.replies import ReplyTemplate, builtin_templates, load_template, render

NOW = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)

COUPON = {"order_id": "SO-1", "days_late": 3, "coupon": Money("10.00", "CNY")}


def test_the_late_delivery_apology_in_three_locales() -> None:
    apology = builtin_templates()["late_delivery_apology"]
    zh = render(apology, COUPON, locale="zh-CN", now=NOW)
    tw = render(apology, COUPON, locale="zh-TW", now=NOW)
    en = render(apology, COUPON, locale="en-GB", now=NOW)
    assert zh.text.startswith("亲，您好！非常抱歉")
    assert "¥10.00" in zh.text
    assert tw.text.startswith("親，您好！非常抱歉")
    assert "無門檻" in tw.text
    assert en.text.startswith("Hi there, we are sorry")
    assert "3 days later" in en.text
    assert (zh.text_locale, tw.text_locale, en.text_locale) == ("zh_Hans", "zh_Hant", "en")
    assert zh.subject == "关于订单 SO-1 延迟送达的致歉"
    assert zh.template_version == "2026.1"


def test_traditional_request_with_no_traditional_variant_gets_english() -> None:
    apology = builtin_templates()["late_delivery_apology"]
    simplified_and_english = apology.model_copy(
        update={"variants": {k: v for k, v in apology.variants.items() if k != "zh-Hant"}}
    )
    result = render(simplified_and_english, COUPON, locale="zh-Hant-TW", now=NOW)
    assert result.text_locale == "en"
    assert result.format_locale == "zh_Hant_TW"
    assert "CN¥10.00" in result.text  # formatted for Taiwan


def test_fallbacks_for_optional_variables_follow_the_variant() -> None:
    apology = builtin_templates()["late_delivery_apology"]
    named = render(apology, {**COUPON, "customer_name": "王女士"}, locale="zh-CN", now=NOW)
    assert named.text.startswith("王女士，您好")


def test_missing_and_mistyped_variables() -> None:
    apology = builtin_templates()["late_delivery_apology"]
    with pytest.raises(TemplateError, match="'order_id'"):
        render(apology, {"days_late": 3, "coupon": COUPON["coupon"]}, locale="zh-CN", now=NOW)
    with pytest.raises(TemplateError, match="should be money"):
        render(apology, {**COUPON, "coupon": "10"}, locale="zh-CN", now=NOW)


def test_an_unfilled_slot_blocks_sending() -> None:
    wait = builtin_templates()["please_wait"]
    draft = render(wait, {"minutes": 2}, locale="zh-CN", now=NOW)
    assert not draft.sendable
    assert draft.unfilled_slots == ("topic",)
    ready = render(wait, {"minutes": 2}, locale="zh-CN", slots={"topic": "物流信息"}, now=NOW)
    assert ready.sendable
    assert "物流信息" in ready.text


@pytest.mark.parametrize("template_id", sorted(builtin_templates()))
@pytest.mark.parametrize("locale", ["zh-CN", "zh-TW", "en"])
def test_every_builtin_template_renders_its_fixtures(template_id: str, locale: str) -> None:
    template = builtin_templates()[template_id]
    assert set(template.variants) == {"zh-Hans", "zh-Hant", "en"}
    context = dict(template.fixtures[0]) if template.fixtures else {}
    for variable in template.variables:
        if variable.name not in context and variable.required:
            context[variable.name] = {
                "int": 2,
                "str": "x",
                "money": Money("10.00", "CNY"),
                "duration": timedelta(hours=4),
            }[variable.type]
    assert render(template, context, locale=locale, now=NOW).text


def test_invalid_template_names_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        'id = "x"\nversion = "1"\ncategory = "c"\n[variants.en]\nbody = ""\n', encoding="utf-8"
    )
    with pytest.raises(PolicyError) as caught:
        load_template(bad)
    assert caught.value.errors[0].loc == "variants.en.body"


def test_no_variant_at_all() -> None:
    only_german = ReplyTemplate(
        id="x", version="1", category="c", variants={"de": {"body": "Hallo"}}
    )
    with pytest.raises(TemplateError, match="no variant"):
        render(only_german, {}, locale="ja", default_locale="en", now=NOW)


def test_the_catalogue_covers_the_desk() -> None:
    assert set(builtin_templates()) >= {
        "greeting",
        "please_wait",
        "offline_auto_reply",
        "unpaid_reminder",
        "late_delivery_apology",
        "out_of_stock_cancellation",
        "outage_apology",
        "return_instructions",
        "refund_breakdown",
        "handover_to_aftersales",
        "complaint_acknowledgement",
        "review_recovery",
        "shipping_delay_notice",
        "order_details_check",
        "refund_progress",
        "satisfaction_survey",
        "handover_note",
    }


def test_review_recovery_never_asks_for_the_review() -> None:
    recovery = builtin_templates()["review_recovery"]
    for variant in recovery.variants.values():
        for word in ("好评", "好評", "改评", "改評", "star", "rating", "update your review"):
            assert word not in variant.body
