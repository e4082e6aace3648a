"""One reading of upstream's ``filters[]`` (``api.fields.filter_condition``) for every search:
customers (objects), the catalog and entitlements (objects and records), stored collections
(records)."""

from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from mockserver.api import fields
from mockserver.domain.errors import ApiError

ITEMS = [
    {
        "id": "a",
        "name": "Alpha",
        "email": None,
        "amount": "10",
        "active": True,
        "created_at": "2026-01-01T00:00:00Z",
    },
    {
        "id": "b",
        "name": "beta",
        "email": "b@x.io",
        "amount": "9.5",
        "active": False,
        "created_at": "2026-02-01T00:00:00Z",
    },
]
OBJECTS = [
    SimpleNamespace(
        **{**item, "created_at": datetime.fromisoformat(item["created_at"].replace("Z", "+00:00"))}
    )
    for item in ITEMS
]


def kept(cond: dict, read=dict.get, items=ITEMS) -> list[str]:
    test = fields.filter_condition(cond, read)
    return [item["id"] if isinstance(item, dict) else item.id for item in items if test(item)]


@pytest.mark.parametrize(
    "cond, expected",
    [
        ({"field": "name", "operator": "contains", "value": {"string": "ALP"}}, ["a"]),
        ({"field": "name", "operator": "not_contains", "value": {"string": "alp"}}, ["b"]),
        ({"field": "email", "operator": "contains", "value": {"string": "x"}}, ["b"]),  # unset: never
        ({"field": "id", "operator": "in", "value": {"array": ["b", "c"]}}, ["b"]),
        ({"field": "id", "operator": "not_in", "value": {"array": ["b"]}}, ["a"]),
        ({"field": "amount", "operator": "gt", "value": {"number": 9.75}}, ["a"]),  # as numbers, not text
        ({"field": "amount", "operator": "gte", "value": {"number": 9.5}}, ["a", "b"]),
        ({"field": "active", "operator": "eq", "value": {"boolean": False}}, ["b"]),
        ({"field": "created_at", "operator": "before", "value": {"date": "2026-01-15T00:00:00Z"}}, ["a"]),
        ({"field": "created_at", "operator": "after", "value": {"date": "2026-01-15T00:00:00Z"}}, ["b"]),
    ],
)
def test_records_and_objects_are_filtered_alike(cond, expected):
    assert kept(cond) == expected
    assert kept(cond, getattr, OBJECTS) == expected


@pytest.mark.parametrize(
    "cond, allowed, words",
    [
        ({"field": "secret", "value": {"string": "x"}}, ("name",), "cannot filter objects by 'secret'"),
        ({"field": "name", "value": {}}, None, "filter on 'name' has no value"),
        ({"field": "name", "operator": "between", "value": {"string": "x"}}, None, "does not apply"),
        ({"field": "created_at", "operator": "contains", "value": {"date": "2026"}}, None, "does not apply"),
        ({"field": "created_at", "operator": "before", "value": {"date": "soon"}}, None, "RFC 3339"),
    ],
)
def test_a_bad_filter_is_a_400_naming_its_field(cond, allowed, words):
    with pytest.raises(ApiError) as refused:
        fields.filter_condition(cond, dict.get, allowed)
    assert refused.value.status == 400 and words in refused.value.internal_error


def test_a_time_compares_as_a_time_whatever_its_offset():
    late = {"id": "c", "created_at": datetime(2026, 1, 1, 1, tzinfo=timezone.utc).isoformat()}
    cond = {"field": "created_at", "operator": "after", "value": {"date": "2026-01-01T01:30:00+01:00"}}
    assert kept(cond, items=[late]) == ["c"]
