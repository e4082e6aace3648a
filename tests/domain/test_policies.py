"""The policy form, without HTTP: its shapes, its shortest form, when a pending thing is due."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from mockserver.domain import policies
from mockserver.domain.policies import Policy, PolicyError

AT = datetime(2026, 1, 31, 12, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("given", "policy", "shown"),
    [
        ("manual", Policy(), "manual"),
        ("immediate", Policy("pay"), "immediate"),
        ("fail", Policy("fail"), "fail"),
        ("void", Policy("void"), "void"),
        ({"after": "PT60M"}, Policy("pay", "PT1H"), {"after": "PT1H", "outcome": "pay"}),
        ({"after": "P1M", "outcome": "fail"}, Policy("fail", "P1M"), {"after": "P1M", "outcome": "fail"}),
    ],
)
def test_each_form_reads_and_shows_in_its_shortest_form(given, policy, shown):
    assert policies.parse_policy(given, "kind") == policy
    assert policy.dump() == shown
    assert policies.parse_policy(policy.dump(), "kind") == policy


def test_when_a_pending_thing_settles():
    assert Policy().due(AT) is None
    assert Policy("void").due(AT) == AT
    assert Policy("pay", "PT1H").due(AT) == datetime(2026, 1, 31, 13, tzinfo=timezone.utc)
    assert Policy("pay", "P1M").due(AT) == datetime(2026, 2, 28, 12, tzinfo=timezone.utc)  # calendar month


def test_an_update_is_partial_checked_whole_and_refuses_kinds_the_version_lacks():
    current = policies.defaults()
    changed = policies.update(current, {"subscription_invoices": "fail"})
    assert changed == {"invoiced_top_ups": Policy(), "subscription_invoices": Policy("fail")}
    assert current == policies.defaults()  # not changed in place
    with pytest.raises(PolicyError) as refused:
        policies.update(current, {"invoiced_top_ups": "immediate", "other": "x"})
    assert refused.value.field == "other"
    assert refused.value.problem.startswith("is not a kind of pending thing")
    with pytest.raises(PolicyError) as refused:
        policies.update(current, {"invoiced_top_ups": "immediate"}, kinds=())
    assert refused.value.field == "invoiced_top_ups"
    assert policies.dump(changed, kinds=()) == {}
