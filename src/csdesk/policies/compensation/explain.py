"""`Decision.explain`: the decision in words for the agent, in Chinese or English.

Field paths and conditions stay as written in the policy (``incident.days_late ≥ 1``) so an agent
can find the rule; everything else is worded for the locale, and amounts are formatted with Babel
from the already-rounded values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from csdesk._checks import checked
from csdesk.money import Money
from csdesk.replies.locales import locale_chain

if TYPE_CHECKING:
    from csdesk.policies.compensation.decide import Decision, Offer

__all__ = ["explain"]

_ZH: dict[str, str] = {
    "triage.statutory": "法定索赔（{law}）：{formula}；交由{role}处理，不以补偿券代替",
    "abuse.statutory": "风险标记（{flags}）仅供处理人参考，不影响法定权利",
    "triage.review_unconfirmed": "评价背后的问题尚未确认：不为评价本身给予补偿，请先确认问题",
    "triage.review_confirmed": "已确认评价反映的问题：{cause}；补偿针对该问题，与评价无关",
    "rule.none": "没有适用于此类事件的规则",
    "rule.matched": "规则 {rule} 命中：{conditions}",
    "rule.skipped": "规则 {rule} 未命中：{conditions}",
    "amount.none": "{rule}：无金额（会员升级）",
    "amount": "{rule} 金额：{steps}",
    "group.first": "规则组 {group}（取第一条）：{rule}，{value}",
    "group.max": "规则组 {group}（取最大）：{rule}，{value}",
    "stacking.max": "不叠加：只保留最大的 {rule}，{value}",
    "caps.ok": "上限 {name}：本次 {before}，剩余额度 {left}，未超出",
    "caps.reduced": "上限 {name}：本次 {before}，减为 {after}",
    "caps.exhausted": "上限 {name}：本次 {before}，额度已用完",
    "caps.count_ok": "上限 {name}：已补偿 {used} 次，上限 {limit} 次",
    "caps.count_exhausted": "上限 {name}：已补偿 {used} 次，达到上限 {limit} 次，不再补偿",
    "budget.ok": "预算 {name}：本次 {before}，剩余 {left}",
    "budget.reduced": "预算 {name}：本次 {before}，减为 {after}",
    "budget.exhausted": "预算 {name}：本次 {before}，预算已用完",
    "abuse.downgrade": "风险信号 {signal}（{conditions}）：补偿方式调整：{changes}",
    "abuse.evidence": "风险信号 {signal}（{conditions}）：需先提供凭证：{evidence}",
    "abuse.review": "风险信号 {signal}（{conditions}）：交由{role}复核",
    "authority.ok": "权限：单笔最大 {biggest}，合计 {total}，在权限内",
    "authority.exceeded": "权限：单笔最大 {biggest}，合计 {total}，超出{why}，需{role}审批",
    "result.rejected": "不予补偿：{reasons}",
}
_ZH_WORDS = {
    "auto_approved": "自动批准",
    "needs_approval": "需审批",
    "needs_evidence": "需凭证",
    "rejected": "不予补偿",
    "statutory": "法定索赔",
    "bot": "机器人",
    "agent": "客服",
    "senior_agent": "资深客服",
    "supervisor": "主管",
    "cash_refund": "现金退款",
    "coupon_no_threshold": "无门槛优惠券",
    "coupon_threshold": "满减券",
    "free_shipping": "下次包邮",
    "points": "积分",
    "membership_upgrade": "会员升级",
    "gift": "赠品",
    "per-offer limit": "单笔权限",
    "daily limit": "每日权限",
}
_EN_WORDS = {
    "cash_refund": "cash refund",
    "coupon_no_threshold": "no-threshold coupon",
    "coupon_threshold": "threshold coupon",
    "free_shipping": "free shipping on the next order",
    "points": "points",
    "membership_upgrade": "membership upgrade",
    "gift": "gift",
}
_EN_STATUS = {
    "auto_approved": "auto-approved",
    "needs_approval": "needs approval",
    "needs_evidence": "needs evidence",
    "rejected": "rejected",
    "statutory": "statutory claim",
}


def _words(locale: str) -> str:
    chain = locale_chain(locale, available=("zh-Hans", "en"), default="en")
    return "zh" if chain.text_locale and chain.text_locale.startswith("zh") else "en"


def _fmt(value: Any, locale: str) -> str:
    if isinstance(value, Money):
        return value.format(locale)
    return str(value)


def _offer_line(offer: Offer, lang: str, locale: str) -> str:
    value = offer.value.format(locale)
    if lang == "zh":
        name = _ZH_WORDS[offer.instrument.value]
        text = f"{name} {value}"
        if offer.threshold is not None:
            text = f"满{offer.threshold.format(locale)}减{value}"
        if offer.points is not None:
            text += f"（{offer.points} 积分）"
        if offer.upgrade_to:
            text = f"{name}至 {offer.upgrade_to}"
        if offer.gift_sku:
            text += f"（{offer.gift_sku}）"
        if offer.valid_until is not None:
            text += f"，有效期至 {offer.valid_until.date().isoformat()}"
        return f"{text}（规则 {offer.rule_id}）"
    name = _EN_WORDS[offer.instrument.value]
    text = f"{value} {name}"
    if offer.threshold is not None:
        text += f" on a spend of {offer.threshold.format(locale)}"
    if offer.points is not None:
        text += f" ({offer.points} points)"
    if offer.upgrade_to:
        text = f"membership upgrade to {offer.upgrade_to}"
    if offer.gift_sku:
        text += f" ({offer.gift_sku})"
    if offer.valid_until is not None:
        text += f", valid until {offer.valid_until.date().isoformat()}"
    return f"{text} (rule {offer.rule_id})"


@checked
def explain(decision: Decision, locale: str = "en") -> str:
    """Word ``decision`` for an agent in ``locale`` (Chinese or English)."""
    lang = _words(locale)
    status = decision.status.value
    role = decision.required_role.value if decision.required_role else None
    lines: list[str] = []
    if lang == "zh":
        head = f"事件 {decision.incident_id}（{decision.kind.value}）：{_ZH_WORDS[status]}"
        if role:
            head += f"，由{_ZH_WORDS[role]}处理"
        lines.append(head)
        if decision.statutory is not None:
            claim = decision.statutory
            lines.append(
                f"法定金额：{claim.amount.format(locale)}（{claim.law}：{claim.formula}；"
                f"最低 {claim.minimum.format(locale)}）"
            )
        for offer in decision.offers:
            lines.append("补偿：" + _offer_line(offer, lang, locale))
        if decision.evidence_required:
            lines.append("需提供：" + "、".join(decision.evidence_required))
        lines.append("依据：")
        for step in decision.trace:
            template = _ZH.get(step.code)
            if template is None:
                if step.code.startswith("result."):
                    continue
                lines.append(f"  - {step.text}")
                continue
            params = {k: _zh_word(v, locale) for k, v in step.params.items()}
            lines.append("  - " + template.format(**params))
        lines.append(
            f"政策 {decision.policy_id} {decision.policy_version}（{decision.policy_hash[:12]}），"
            f"幂等键 {decision.idempotency_key}"
        )
        return "\n".join(lines)
    head = f"Incident {decision.incident_id} ({decision.kind.value}): {_EN_STATUS[status]}"
    if role:
        head += f", {role.replace('_', ' ')} to handle it"
    lines.append(head)
    if decision.statutory is not None:
        claim = decision.statutory
        lines.append(
            f"Statutory amount: {claim.amount.format(locale)} ({claim.law}: {claim.formula})"
        )
    for offer in decision.offers:
        lines.append("Offer: " + _offer_line(offer, lang, locale))
    if decision.evidence_required:
        lines.append("Evidence needed: " + ", ".join(decision.evidence_required))
    lines.append("Why:")
    for step in decision.trace:
        if step.code.startswith("result.") and step.code != "result.rejected":
            continue
        lines.append(f"  - {step.text}")
    lines.append(
        f"Policy {decision.policy_id} {decision.policy_version} ({decision.policy_hash[:12]}), "
        f"idempotency key {decision.idempotency_key}"
    )
    return "\n".join(lines)


def _zh_word(value: Any, locale: str) -> str:
    if isinstance(value, str) and value in _ZH_WORDS:
        return _ZH_WORDS[value]
    return _fmt(value, locale)
