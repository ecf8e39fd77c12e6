"""Webhooks: signatures (tampering, wrong secret, replay, rotation); the relay: tests/storage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from csdesk.errors import InvalidInputError, WebhookSignatureError
from csdesk.integrations.webhooks import (
    sign,
    signature_header,
    verify_webhook,
)

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
BODY = b'{"id": "evt-1", "type": "refund.succeeded"}'


def test_a_good_signature_verifies() -> None:
    header = signature_header(BODY, ["s3cret"], now=NOW)
    assert verify_webhook(BODY, header, ["s3cret"], now=NOW + timedelta(seconds=30)) == int(
        NOW.timestamp()
    )


def test_a_tampered_body_is_refused() -> None:
    header = signature_header(BODY, ["s3cret"], now=NOW)
    with pytest.raises(WebhookSignatureError) as caught:
        verify_webhook(BODY.replace(b"succeeded", b"failed"), header, ["s3cret"], now=NOW)
    assert caught.value.reason == "mismatch"
    assert caught.value.code == "webhook_signature"


def test_a_wrong_secret_is_refused() -> None:
    header = signature_header(BODY, ["s3cret"], now=NOW)
    with pytest.raises(WebhookSignatureError, match="secret is wrong"):
        verify_webhook(BODY, header, ["other"], now=NOW)


@pytest.mark.parametrize("shift", [timedelta(minutes=6), timedelta(minutes=-6), timedelta(days=3)])
def test_a_timestamp_outside_the_window_is_refused(shift: timedelta) -> None:
    header = signature_header(BODY, ["s3cret"], now=NOW)
    with pytest.raises(WebhookSignatureError) as caught:
        verify_webhook(BODY, header, ["s3cret"], now=NOW + shift)
    assert caught.value.reason == "stale"


def test_the_replay_window_is_configurable() -> None:
    header = signature_header(BODY, ["s3cret"], now=NOW)
    later = NOW + timedelta(minutes=9)
    assert verify_webhook(BODY, header, ["s3cret"], now=later, tolerance=timedelta(minutes=10))


def test_a_rotated_secret_verifies_during_the_rotation() -> None:
    during = signature_header(BODY, ["new", "old"], now=NOW)
    assert verify_webhook(BODY, during, ["old"], now=NOW)  # receivers not yet updated
    assert verify_webhook(BODY, during, ["new"], now=NOW)  # receivers already updated
    assert verify_webhook(BODY, during, ["new", "old"], now=NOW)
    after = signature_header(BODY, ["new"], now=NOW)
    with pytest.raises(WebhookSignatureError):
        verify_webhook(BODY, after, ["old"], now=NOW)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing"),
        ("", "missing"),
        ("v1=abc", "malformed"),
        ("t=abc,v1=x", "malformed"),
        ("t=1", "malformed"),
    ],
)
def test_missing_and_malformed_headers(header: str | None, reason: str) -> None:
    with pytest.raises(WebhookSignatureError) as caught:
        verify_webhook(BODY, header, ["s3cret"], now=NOW)
    assert caught.value.reason == reason


def test_the_signature_is_hmac_sha256_over_timestamp_and_body() -> None:
    import hashlib
    import hmac

    expected = hmac.new(b"k", b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert sign(BODY, "k", 1700000000) == expected
    with pytest.raises(InvalidInputError):
        sign(BODY, "", 1)


def test_a_bare_string_secret_is_refused_not_split_into_characters() -> None:
    header = signature_header(BODY, ["w"], now=NOW)
    with pytest.raises(InvalidInputError, match="secrets"):
        verify_webhook(BODY, header, "whsec_long_secret_w", now=NOW)
    with pytest.raises(InvalidInputError):
        signature_header(BODY, "whsec", now=NOW)


@pytest.mark.parametrize("digits", [13, 400, 5000])
def test_huge_timestamps_are_malformed_not_a_crash(digits: int) -> None:
    header = f"t={'9' * digits},v1={'0' * 64}"
    with pytest.raises(WebhookSignatureError) as caught:
        verify_webhook(BODY, header, ["k"], now=NOW)
    assert caught.value.reason == "malformed"
