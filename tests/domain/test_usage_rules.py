"""The usage rules on their own: billing periods, prices' charges, meters' aggregates."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from mockserver.domain import charges, usage
from mockserver.domain.models import LineItem, Meter, Price, Tier

UTC = timezone.utc
T0 = datetime(2026, 1, 31, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("anchor", "period", "count", "after", "end"),
    [
        (T0, "MONTHLY", 1, T0, datetime(2026, 2, 28, 10, tzinfo=UTC)),  # a day February lacks: its last
        (T0, "MONTHLY", 1, datetime(2026, 2, 28, 10, tzinfo=UTC), datetime(2026, 3, 31, 10, tzinfo=UTC)),
        (T0, "MONTHLY", 3, T0, datetime(2026, 4, 30, 10, tzinfo=UTC)),
        (T0, "ANNUAL", 1, T0, datetime(2027, 1, 31, 10, tzinfo=UTC)),
        (
            datetime(2024, 2, 29, tzinfo=UTC),
            "ANNUAL",
            1,
            datetime(2024, 2, 29, tzinfo=UTC),
            datetime(2025, 2, 28, tzinfo=UTC),
        ),
        (T0, "WEEKLY", 1, T0, datetime(2026, 2, 7, 10, tzinfo=UTC)),
        (T0, "DAILY", 2, datetime(2026, 2, 5, 11, tzinfo=UTC), datetime(2026, 2, 6, 10, tzinfo=UTC)),
    ],
)
def test_the_next_period_boundary_keeps_the_anchors_day(anchor, period, count, after, end):
    assert usage.next_boundary(anchor, period, count, after) == end


def _price(**fields) -> Price:
    base = dict(
        id="price_1",
        entity_type="PLAN",
        entity_id="plan_1",
        currency="usd",
        type="USAGE",
        billing_model="FLAT_FEE",
        billing_period="MONTHLY",
        billing_period_count=1,
        invoice_cadence="ARREAR",
        created_at=T0,
        updated_at=T0,
    )
    return Price(**{**base, **fields})


TIERS = [Tier(Decimal(1), up_to=100), Tier(Decimal("0.5"), Decimal(10), up_to=None)]


@pytest.mark.parametrize(
    ("price", "units", "charge"),
    [
        (_price(amount=Decimal("0.333")), 3, "1.00"),  # 0.999, rounded half away from zero
        (_price(amount=Decimal("0.005")), 1, "0.01"),
        (_price(amount=Decimal("7"), currency="jpy"), Decimal("0.5"), "4"),  # a currency without cents
        (_price(amount=Decimal(5)), 0, "0"),
        (_price(billing_model="PACKAGE", amount=Decimal(2), divide_by=10), 11, "4.00"),
        (_price(billing_model="PACKAGE", amount=Decimal(2), divide_by=10, round="down"), 19, "2.00"),
        (_price(billing_model="PACKAGE", amount=Decimal(2), divide_by=10), 10, "2.00"),
        (_price(billing_model="TIERED", tier_mode="SLAB", tiers=TIERS), 100, "100.00"),  # at the boundary
        (_price(billing_model="TIERED", tier_mode="SLAB", tiers=TIERS), 101, "110.50"),
        (_price(billing_model="TIERED", tier_mode="VOLUME", tiers=TIERS), 100, "100.00"),  # up_to inclusive
        (_price(billing_model="TIERED", tier_mode="VOLUME", tiers=TIERS), 101, "60.50"),
    ],
)
def test_a_price_charges_what_upstream_computes(price, units, charge):
    assert charges.cost(price, Decimal(units)) == Decimal(charge)


def _meter(kind: str, **fields) -> Meter:
    return Meter("meter_1", "m", "e", kind, T0, T0, **fields)


def test_count_unique_compares_values_as_text():
    item = LineItem("li", "sub", "price_1", "USAGE", T0)
    meter = _meter("COUNT_UNIQUE", field_name="user")
    for value in ("1", 1, Decimal("1.0"), "1.0", True, None):
        charges.record(item, meter, {"user": value} if value is not None else {}, T0)
    # "1", 1 and 1.0 (a JSON number) are the same text; the string "1.0" and true are others
    assert charges.quantity(item, meter) == 3


def test_latest_is_by_the_events_time_not_by_arrival():
    item = LineItem("li", "sub", "price_1", "USAGE", T0)
    meter = _meter("LATEST", field_name="seats")
    charges.record(item, meter, {"seats": 5}, datetime(2026, 2, 2, tzinfo=UTC))
    charges.record(item, meter, {"seats": 9}, datetime(2026, 2, 1, tzinfo=UTC))  # older, later
    assert charges.quantity(item, meter) == 5


def test_filters_match_every_key_with_any_of_its_values():
    meter = _meter("COUNT", filters={"region": ["eu", "uk"], "tier": ["1"]})
    assert charges.passes(meter, {"region": "uk", "tier": 1})
    assert not charges.passes(meter, {"region": "us", "tier": "1"})
    assert not charges.passes(meter, {"region": "eu"})
