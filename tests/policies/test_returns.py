from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from csdesk import NaiveDatetimeError, PolicyError, UnknownPresetError
from csdesk.decision import preset_names
from csdesk.errors import InvalidInputError
from csdesk.policies import ReturnPolicy, WindowStatus, return_policy, return_window
from csdesk.policies.returns import window_end
from csdesk.replies import explain
from tests.factories import SHANGHAI, new_order

BERLIN = ZoneInfo("Europe/Berlin")


def signed(at: datetime):  # type: ignore[no-untyped-def]
    order = new_order()
    order.signed_at = at
    return order


class TestChina:
    signed_at = datetime(2026, 3, 3, 15, 0, tzinfo=SHANGHAI)  # a Tuesday: no roll-over

    def test_seven_days_from_midnight_after_sign_off(self) -> None:
        policy = return_policy("cn_consumer_law")
        order = signed(self.signed_at)
        inside = return_window(
            order, "1", policy=policy, now=datetime(2026, 3, 10, 23, 59, tzinfo=SHANGHAI)
        )
        outside = return_window(
            order, "1", policy=policy, now=datetime(2026, 3, 11, 0, 0, tzinfo=SHANGHAI)
        )
        assert inside.status is WindowStatus.OPEN
        assert inside.is_open
        assert inside.ends_at == datetime(2026, 3, 11, 0, 0, tzinfo=SHANGHAI)
        assert inside.starts_at == datetime(2026, 3, 4, 0, 0, tzinfo=SHANGHAI)
        assert inside.last_day == date(2026, 3, 10)
        assert inside.rolled_over is None
        assert outside.status is WindowStatus.CLOSED
        assert inside.basis == "cn_7day"
        assert inside.policy is not None
        assert inside.policy.id == "cn_consumer_law"
        assert len(inside.policy.hash) == 64

    def test_counted_in_the_shops_zone_not_the_callers(self) -> None:
        # 23:30 UTC on 2 March is 07:30 on 3 March in Shanghai: the same sign-off day.
        order = signed(datetime(2026, 3, 2, 23, 30, tzinfo=ZoneInfo("UTC")))
        window = return_window(
            order,
            "1",
            policy=return_policy("cn_consumer_law"),
            now=datetime(2026, 3, 5, tzinfo=SHANGHAI),
        )
        assert window.ends_at == datetime(2026, 3, 11, 0, 0, tzinfo=SHANGHAI)

    def test_excluded_categories(self) -> None:
        window = return_window(
            signed(self.signed_at), "3", policy=return_policy("cn_consumer_law"), now=self.signed_at
        )
        assert window.status is WindowStatus.EXCLUDED
        assert window.exclusion is not None
        assert "CPL art. 25(2)" in window.exclusion

    def test_confirmed_non_returnable_goods(self) -> None:
        order = signed(self.signed_at)
        line = order.line("2").model_copy(update={"non_returnable_confirmed": True})
        window = return_window(
            order, line, policy=return_policy("cn_consumer_law"), now=self.signed_at
        )
        assert window.status is WindowStatus.EXCLUDED
        assert "confirmed at purchase" in (window.exclusion or "")

    def test_last_day_on_a_holiday_rolls_over_on_the_statutory_calendar(self) -> None:
        # Signed on Fri 2026-04-24: the 7th day is Fri 1 May, Labour Day; days off 1-5 May.
        at = datetime(2026, 4, 24, 12, tzinfo=SHANGHAI)
        rolled = window_end(at, return_policy("cn_consumer_law"), zone=SHANGHAI)
        assert rolled == datetime(2026, 5, 7, tzinfo=SHANGHAI)  # last day Wed 6 May
        platform = window_end(at, return_policy("cn_platform"), zone=SHANGHAI)
        assert platform == datetime(2026, 5, 2, tzinfo=SHANGHAI)  # 168 hours, no roll-over

    def test_not_started_before_sign_off(self) -> None:
        window = return_window(
            new_order(), "1", policy=return_policy("cn_consumer_law"), now=self.signed_at
        )
        assert window.status is WindowStatus.NOT_STARTED
        assert window.ends_at is None


class TestEurope:
    possession = datetime(2026, 3, 2, 11, 0, tzinfo=BERLIN)  # the 14th day is Monday 16 March

    def test_fourteen_days_from_possession(self) -> None:
        window = return_window(
            signed(self.possession),
            "1",
            policy=return_policy("eu_crd"),
            now=self.possession,
            zone="Europe/Berlin",
            country="DE",
        )
        assert window.last_day == date(2026, 3, 16)
        assert window.ends_at == datetime(2026, 3, 17, tzinfo=BERLIN)

    def test_the_consumers_country_is_required(self) -> None:
        with pytest.raises(InvalidInputError, match="country='DE'"):
            return_window(signed(self.possession), "1", policy=return_policy("eu_crd"),
                          now=self.possession, zone="Europe/Berlin")  # fmt: skip

    def test_not_informed_adds_twelve_months(self) -> None:
        window = return_window(
            signed(self.possession),
            "1",
            policy=return_policy("eu_crd"),
            now=datetime(2027, 3, 16, 12, tzinfo=BERLIN),
            zone="Europe/Berlin",
            informed=False,
            country="DE",
        )
        assert window.last_day == date(2027, 3, 16)
        assert window.is_open
        assert any(s.params.get("months") == 12 for s in window.trace)
        assert "12 more months" in explain(window)

    def test_late_information_ends_fourteen_days_after_it(self) -> None:
        told = datetime(2026, 6, 1, 9, tzinfo=BERLIN)
        end = window_end(
            self.possession,
            return_policy("eu_crd"),
            zone=BERLIN,
            informed=False,
            informed_at=told,
            country="DE",
        )
        assert end == datetime(2026, 6, 16, tzinfo=BERLIN)

    def test_zone_is_required_when_the_policy_has_none(self) -> None:
        with pytest.raises(InvalidInputError, match="time zone"):
            return_window(
                signed(self.possession), "1", policy=return_policy("uk_ccr"), now=self.possession
            )

    def test_last_parcel_is_the_anchor(self) -> None:
        from csdesk import Shipment

        order = new_order()
        order.shipments = (
            Shipment(id="a", carrier="DHL", tracking_number="1", delivered_at=self.possession),
            Shipment(
                id="b",
                carrier="DHL",
                tracking_number="2",
                delivered_at=self.possession + timedelta(days=3),
            ),
        )
        window = return_window(
            order,
            "1",
            policy=return_policy("eu_crd"),
            now=self.possession,
            zone="Europe/Berlin",
            country="DE",
        )
        assert window.last_day == date(2026, 3, 19)  # 14 days from the second parcel, 5 March


def test_presets_carry_source_and_as_of() -> None:
    assert preset_names("returns") == [
        "cn_consumer_law",
        "cn_platform",
        "cn_sanbao",
        "eu_crd",
        "generic",
        "uk_ccr",
        "uk_cra_reject",
    ]
    for name in preset_names("returns"):
        policy = return_policy(name)
        assert policy.source
        assert policy.as_of.year >= 2026


def test_unknown_preset() -> None:
    with pytest.raises(UnknownPresetError) as caught:
        return_policy("mars")
    assert "cn_consumer_law" in caught.value.known


def test_policy_errors_name_the_key(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "shop.toml"
    path.write_text(
        'id = "shop"\nversion = "1"\nsource = "terms"\nas_of = 2026-01-01\n'
        'basis = "none"\nanchor = "delivery"\ndays = "thirty"\n',
        encoding="utf-8",
    )
    from csdesk.policies import load_policy

    with pytest.raises(PolicyError) as caught:
        load_policy(ReturnPolicy, path, kind="returns")
    assert [f.loc for f in caught.value.errors] == ["days"]
    assert caught.value.source == str(path)
    bad = tmp_path / "bad.toml"
    bad.write_text("id = ", encoding="utf-8")
    with pytest.raises(PolicyError, match="not valid TOML"):
        load_policy(ReturnPolicy, bad, kind="returns")


def test_naive_now() -> None:
    with pytest.raises(NaiveDatetimeError):
        return_window(new_order(), "1", policy=return_policy("generic"), now=datetime(2026, 3, 1))


def test_policy_hash_changes_with_the_numbers() -> None:
    policy = return_policy("generic")
    assert policy.model_copy(update={"days": 31}).policy_hash != policy.policy_hash
