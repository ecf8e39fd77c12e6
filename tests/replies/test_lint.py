"""Each lint rule with a template that trips it and one that passes; the catalogue lints clean."""

from __future__ import annotations

from typing import Any

import pytest

from csdesk.replies import ReplyTemplate, builtin_templates
from csdesk.replies.lint import RULES, lint


def template(
    body: str,
    *,
    lang: str = "zh-Hans",
    category: str = "greeting",
    variables: list[dict[str, Any]] | None = None,
    other: str | None = None,
    fixtures: list[dict[str, Any]] | None = None,
) -> ReplyTemplate:
    variants: dict[str, Any] = {lang: {"body": body}}
    if other is not None:
        variants["en"] = {"body": other}
    return ReplyTemplate.model_validate(
        {
            "id": "t",
            "version": "1",
            "category": category,
            "variants": variants,
            "variables": variables or [],
            "fixtures": fixtures or [],
        }
    )


MONEY = [{"name": "amount", "type": "money"}]
NAME = [{"name": "name", "type": "str"}]

# rule: (failing template, passing template)
CASES: dict[str, tuple[ReplyTemplate, ReplyTemplate]] = {
    "syntax": (template("您好 {{ name "), template("您好 {{ name }}", variables=NAME)),
    "forbidden": (
        template("{{ name.__class__ }}", variables=NAME),
        template("{{ name }}", variables=NAME),
    ),
    "undeclared": (
        template("您好 {{ nmae }}", variables=NAME),
        template("您好 {{ name }}", variables=NAME),
    ),
    "unformatted": (
        template("退款 {{ amount }}", variables=MONEY),
        template("退款 {{ amount|money }}", variables=MONEY),
    ),
    "parity": (
        template("您好 {{ name }}", variables=NAME, other="Hello"),
        template("您好 {{ name }}", variables=NAME, other="Hello {{ name }}"),
    ),
    "script": (template("您好，請稍等"), template("您好，请稍等")),
    "politeness": (template("你好，请稍等"), template("您好，请稍等")),
    "forbidden_phrase": (template("您好，这个我不知道"), template("您好，我马上为您确认")),
    "diversion": (template("您好，请加微信详谈"), template("您好，请在平台内联系我们")),
    "review_inducement": (template("给五星好评返现5元"), template("感谢您的反馈")),
    "absolute_words": (template("全网最好的保温杯"), template("我们第一时间为您处理")),
    "apology_first": (
        template("您的订单已发货", category="order_problem"),
        template("非常抱歉，您的订单已延迟", category="order_problem"),
    ),
    "leftover_syntax": (
        template("您好 {{ '{{' }} name", variables=NAME, fixtures=[{"name": "x"}]),
        template("您好 {{ name }}", variables=NAME, fixtures=[{"name": "x"}]),
    ),
}


def test_every_rule_has_a_case() -> None:
    assert set(CASES) == set(RULES)


@pytest.mark.parametrize("rule", sorted(CASES))
def test_rule_fails_and_passes(rule: str) -> None:
    failing, passing = CASES[rule]
    assert rule in {issue.rule for issue in lint(failing)}
    assert rule not in {issue.rule for issue in lint(passing)}


def test_english_rules() -> None:
    issues = lint(template("That is not our problem, add me on WhatsApp", lang="en"))
    assert {i.rule for i in issues} >= {"forbidden_phrase", "diversion"}
    assert all(i.variant == "en" for i in issues)


@pytest.mark.parametrize("template_id", sorted(builtin_templates()))
def test_the_builtin_catalogue_lints_clean(template_id: str) -> None:
    assert lint(builtin_templates()[template_id]) == []
