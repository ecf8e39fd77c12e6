"""Phrases the law keeps out of offers and replies, shared by the policies and the replies.

The compensation policy refuses offer labels that contain them; the reply linter flags templates
that do. They sit below both packages so neither imports the other for a list of words.
"""

from __future__ import annotations

__all__ = ["INDUCEMENT_PHRASES"]

INDUCEMENT_PHRASES: tuple[str, ...] = (
    # Rewards for or requests to post, change or delete a review (网络反不正当竞争暂行规定
    # art. 9(5)); the compensation policy validator refuses offer labels that contain them too.
    "好评返现",
    "好評返現",
    "改好评",
    "改好評",
    "删差评",
    "刪差評",
    "追加好评",
    "五星好评",
    "5-star",
    "five-star",
    "change your review",
    "remove your review",
    "delete your review",
)
