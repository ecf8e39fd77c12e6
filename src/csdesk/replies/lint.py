"""Lint reply templates before they reach a customer.

`lint(template)` returns `LintIssue`s, each with a rule id, a severity and a message naming the
variant. Rules:

| id | severity | what |
|---|---|---|
| ``syntax`` | error | the variant does not compile |
| ``forbidden`` | error | private names (``__``), the ``attr`` filter, ``.format`` |
| ``undeclared`` | error | a variable not in the schema (``slot`` is always allowed) |
| ``unformatted`` | error | a money, date, datetime or duration variable printed without its filter |
| ``parity`` | warning | variants that read different variables |
| ``script`` | error | Traditional characters in a zh-Hans variant, or Simplified in zh-Hant |
| ``politeness`` | warning | 你 instead of 您 in Chinese |
| ``forbidden_phrase`` | error | 不知道, 没办法, 不归我管 …; "not our problem", "your fault" … |
| ``diversion`` | error | moving the customer off-platform (加微信, QQ, WhatsApp …) |
| ``review_inducement`` | error | paying or asking for a review change (好评返现, 删差评, "5-star" …) |
| ``absolute_words`` | warning | absolute advertising words (最好, 第一, 国家级 …; Advertising Law art. 9) |
| ``apology_first`` | warning | an order-problem or complaint reply that does not open with an apology |
| ``leftover_syntax`` | error | ``{{`` or ``{%`` left in the output of a fixture render |
"""  # noqa: E501

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import jinja2
from jinja2 import meta, nodes

from csdesk._phrases import INDUCEMENT_PHRASES
from csdesk.errors import CsdeskError, TemplateSecurityError
from csdesk.replies.catalog import ReplyTemplate, render
from csdesk.replies.engine import _environment

__all__ = ["RULES", "LintIssue", "lint"]


@dataclass(frozen=True)
class LintIssue:
    """One finding."""

    rule: str
    severity: Literal["error", "warning"]
    variant: str
    message: str


RULES: dict[str, str] = {
    "syntax": "error",
    "forbidden": "error",
    "undeclared": "error",
    "unformatted": "error",
    "parity": "warning",
    "script": "error",
    "politeness": "warning",
    "forbidden_phrase": "error",
    "diversion": "error",
    "review_inducement": "error",
    "absolute_words": "warning",
    "apology_first": "warning",
    "leftover_syntax": "error",
}

_FILTER_FOR = {
    "money": {"money"},
    "date": {"date"},
    "datetime": {"datetime", "date"},
    "duration": {"duration", "relative"},
}
_TRADITIONAL = "這們為訂單貨聯關請問時間發訊錢與說謝應對還輕確認"
_SIMPLIFIED = "这们为订单货联关请问时间发讯钱与说谢应对还轻确认"
_SIMPLIFIED_ONLY = set("这为订单货联关请问时间发讯钱与说谢应对还轻确认") - set("們")
_TRADITIONAL_ONLY = set("這為訂單貨聯關請問時間發訊錢與說謝應對還輕確認")
_PHRASES_ZH = (
    "不知道",
    "没办法",
    "沒辦法",
    "不归我管",
    "不歸我管",
    "不可能",
    "你自己看",
    "自己去查",
)
_PHRASES_EN = ("not our problem", "your fault", "you should have", "we can't help", "not my job")
_DIVERSION = ("加微信", "加我微信", "微信号", "微信號", "qq", "whatsapp", "telegram", "私下交易")
_ABSOLUTE = re.compile("最好|第一(?!时间|時間)|国家级|國家級|最佳|绝对|絕對|顶级|頂級")
_APOLOGY = ("抱歉", "对不起", "對不起", "致歉", "sorry", "apolog")
_APOLOGY_CATEGORIES = {"order_problem", "complaint", "complaint_suggestion"}


# Fixtures are rendered at one fixed instant, so linting a template twice gives the same result.
_FIXTURE_NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _issue(rule: str, variant: str, message: str) -> LintIssue:
    return LintIssue(rule, RULES[rule], variant, message)  # type: ignore[arg-type]


def _bare_outputs(tree: nodes.Template) -> set[str]:
    """Variables printed directly, without any filter around them."""
    bare = set()
    for output in tree.find_all(nodes.Output):
        for child in output.nodes:
            if isinstance(child, nodes.Name):
                bare.add(child.name)
    return bare


def _filtered(tree: nodes.Template) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for node in tree.find_all(nodes.Filter):
        if isinstance(node.node, nodes.Name):
            found.setdefault(node.node.name, set()).add(node.name)
    return found


def _lint_source(
    template: ReplyTemplate, name: str, source: str
) -> tuple[list[LintIssue], set[str]]:
    issues: list[LintIssue] = []
    if "__" in source or "|attr" in source.replace(" ", "") or ".format" in source:
        issues.append(
            _issue("forbidden", name, "private names, the attr filter and .format are not allowed")
        )
    try:
        tree = _environment().parse(source)
    except jinja2.TemplateSyntaxError as error:
        issues.append(_issue("syntax", name, f"line {error.lineno}: {error.message}"))
        return issues, set()
    except TemplateSecurityError as error:  # private names, includes, nesting limits
        if not issues:
            issues.append(_issue("forbidden", name, error.detail))
        return issues, set()
    used = set(meta.find_undeclared_variables(tree))
    declared = {v.name for v in template.variables} | {"slot"}
    for unknown in sorted(used - declared):
        issues.append(
            _issue("undeclared", name, f"{{{{ {unknown} }}}} is not in the variable schema")
        )
    bare, filtered = _bare_outputs(tree), _filtered(tree)
    for variable in template.variables:
        wanted = _FILTER_FOR.get(variable.type)
        if wanted and (
            variable.name in bare
            or (variable.name in filtered and not filtered[variable.name] & wanted)
        ):
            issues.append(
                _issue(
                    "unformatted",
                    name,
                    f"{variable.name} ({variable.type}) is printed without |{sorted(wanted)[0]}",
                )
            )
    return issues, used


def _lint_text(template: ReplyTemplate, name: str, text: str) -> list[LintIssue]:
    issues: list[LintIssue] = []
    lower = text.lower()
    chinese = name.startswith("zh")
    if name.startswith("zh-Hans") and (found := sorted(set(text) & _TRADITIONAL_ONLY)):
        issues.append(
            _issue(
                "script", name, f"Traditional characters in a Simplified variant: {''.join(found)}"
            )
        )
    if name.startswith("zh-Hant") and (found := sorted(set(text) & _SIMPLIFIED_ONLY)):
        issues.append(
            _issue(
                "script", name, f"Simplified characters in a Traditional variant: {''.join(found)}"
            )
        )
    if chinese and "你" in text:
        issues.append(_issue("politeness", name, "use 您, not 你"))
    for phrase in (*_PHRASES_ZH, *_PHRASES_EN):
        if phrase in lower:
            issues.append(_issue("forbidden_phrase", name, f"'{phrase}' pushes the customer away"))
    for phrase in _DIVERSION:
        if re.search(rf"(?<![a-z]){re.escape(phrase)}(?![a-z])", lower):
            issues.append(_issue("diversion", name, f"'{phrase}' moves the customer off-platform"))
    for phrase in INDUCEMENT_PHRASES:
        if phrase in lower:
            issues.append(
                _issue(
                    "review_inducement",
                    name,
                    f"'{phrase}': rewards or requests for reviews are forbidden (since 2024-09-01)",
                )
            )
    for match in _ABSOLUTE.finditer(text):  # 第一时间 ("right away") is not a claim
        word = match.group()
        issues.append(_issue("absolute_words", name, f"'{word}' is an absolute advertising word"))
    if template.category in _APOLOGY_CATEGORIES and not any(w in lower[:60] for w in _APOLOGY):
        issues.append(
            _issue("apology_first", name, "open a complaint or order-problem reply with an apology")
        )
    return issues


def _lint_render(template: ReplyTemplate, name: str) -> list[LintIssue]:
    if not template.fixtures:
        return []
    try:
        result = render(
            template, template.fixtures[0] | {}, locale=name, default_locale=name, now=_FIXTURE_NOW
        )
    except CsdeskError:
        return []  # fixtures may omit variables; the schema rules above already speak
    if "{{" in result.text or "{%" in result.text:
        return [
            _issue("leftover_syntax", name, "the rendered reply still contains template syntax")
        ]
    return []


def lint(template: ReplyTemplate) -> list[LintIssue]:
    """Every issue in every variant of ``template``."""
    issues: list[LintIssue] = []
    variables: dict[str, set[str]] = {}
    for name, variant in template.variants.items():
        for source in (variant.subject or "", variant.body):
            found, used = _lint_source(template, name, source)
            issues.extend(found)
            variables.setdefault(name, set()).update(used)
        issues.extend(_lint_text(template, name, variant.body))
        issues.extend(_lint_render(template, name))
    sets = {frozenset(v) for v in variables.values()}
    if len(sets) > 1:
        summary = "; ".join(f"{n}: {', '.join(sorted(v))}" for n, v in sorted(variables.items()))
        issues.append(_issue("parity", "*", f"variants read different variables ({summary})"))
    return issues


def lint_all(templates: Iterable[ReplyTemplate]) -> dict[str, list[LintIssue]]:
    """Lint several templates; the result maps template ids to their issues."""
    return {template.id: lint(template) for template in templates}
