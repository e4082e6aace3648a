"""The fault engine without HTTP: parsing rules, matching, schedules, seeds, counters, the header."""

import pytest

from mockserver.draws import Draws
from mockserver.faults.rules import (
    FaultEngine,
    FaultError,
    FaultFileError,
    parse_duration,
    parse_header,
    parse_prefer,
)
from mockserver.text import PathGlob

OPERATIONS = ("createWallet", "getWallet", "topUpWallet")
TOP_UP = ("POST", "/v1/wallets/wallet_1/top-up", "topUpWallet", "key-a")


def engine(max_hold=30.0) -> FaultEngine:
    return FaultEngine(OPERATIONS, max_hold=max_hold)


def kinds(faults: FaultEngine, calls: int, request=TOP_UP) -> list:
    return [(f.kind if (f := faults.decide(*request)) else None) for _ in range(calls)]


# ---- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, seconds", [("250ms", 0.25), ("2s", 2.0), ("1.5s", 1.5), (40, 0.04), ("0", 0.0), (" 10 MS ", 0.01)]
)
def test_durations(text, seconds):
    assert parse_duration(text, "latency") == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["fast", "-5ms", "2m", True, "1e3"])
def test_bad_durations_name_the_field(text):
    with pytest.raises(FaultError) as caught:
        parse_duration(text, "timeout")
    assert caught.value.field == "timeout"


@pytest.mark.parametrize(
    "rule, field, problem",
    [
        ({"status": 200}, "status", "must be from 400 to 599, got 200"),
        ({"status": "5xx"}, "status", "must be an integer, got '5xx'"),
        ({"status": True}, "status", "must be an integer, got True"),
        ({"stauts": 503}, "stauts", "unknown field"),
        ({"method": "GET"}, "action", "a rule needs an action"),
        ({"status": 503, "reset": True}, "reset", "a rule has one action, and status is already set"),
        ({"reset": False}, "reset", "must be true"),
        ({"malformed": "xml"}, "malformed", "must be one of truncated, not-json, got 'xml'"),
        ({"reset": True, "retry_after": 2}, "retry_after", "only goes with a status fault"),
        ({"status": 429, "retry_after": -1}, "retry_after", "must be at least 0, got -1"),
        ({"latency": "500ms..100ms"}, "latency", "must go from low to high"),
        ({"latency": [1, 2, 3]}, "latency", "exactly two durations"),
        ({"status": 503, "method": "FETCH"}, "method", "'FETCH' is not one of"),
        ({"status": 503, "path": "v1/wallets"}, "path", "must start with '/'"),
        ({"status": 503, "operation": "topUp"}, "operation", "'topUp' is not an operationId of the spec"),
        ({"status": 503, "probability": 1.5}, "probability", "must be from 0 to 1, got 1.5"),
        ({"status": 503, "nth": 0}, "nth", "must be at least 1, got 0"),
        ({"status": 503, "first": 2, "every": 3}, "every", "cannot be combined with first"),
        ({"status": 503, "times": "x"}, "times", "must be an integer"),
        ({"status": 503, "id": "has space"}, "id", "may hold only letters"),
        ("status=503", "rule", "must be a mapping"),
    ],
)
def test_bad_rules_name_the_field_and_the_problem(rule, field, problem):
    with pytest.raises(FaultError) as caught:
        engine().add([rule])
    assert caught.value.field == field
    assert problem in caught.value.problem


def test_a_bad_rule_in_a_list_adds_none_and_names_its_index():
    faults = engine()
    with pytest.raises(FaultError) as caught:
        faults.add([{"status": 503}, {"status": 999}])
    assert caught.value.field == "rules[1].status"
    assert len(faults) == 0


def test_rule_ids_are_given_or_chosen_and_unique():
    faults = engine()
    first, named = faults.add([{"status": 503}, {"id": "slow-top-ups", "latency": "10ms"}])
    assert (first.id, named.id) == ("fault_1", "slow-top-ups")
    with pytest.raises(FaultError, match="already the id of a rule"):
        faults.add([{"id": "slow-top-ups", "reset": True}])


def test_a_rule_reads_back_as_written_with_counters_and_a_masked_key():
    faults = engine()
    (rule,) = faults.add(
        [
            {
                "method": ["post", "put"],
                "path": "/v1/wallets/*/top-up",
                "status": 429,
                "retry-after": "3",
                "latency": "10ms..20ms",
                "times": 2,
                "seed": 5,
            }
        ],
        api_key="sk_test_0123456789",
    )
    assert faults.get(rule.id) == {
        "id": "fault_1",
        "method": ["POST", "PUT"],
        "path": "/v1/wallets/*/top-up",
        "api_key": "sk_t…6789",
        "latency": "10ms..20ms",
        "status": 429,
        "retry_after": 3,
        "seed": 5,
        "times": 2,
        "matches": 0,
        "hits": 0,
        "expired": False,
    }


def test_a_drawn_seed_is_shown_and_replays_the_run():
    faults = engine()
    (rule,) = faults.add([{"status": 503, "probability": 0.5}])
    first_run = kinds(faults, 30)
    replay = engine()
    replay.add([{"status": 503, "probability": 0.5, "seed": faults.get(rule.id)["seed"]}])
    assert kinds(replay, 30) == first_run


def test_holds_are_capped_by_the_sandbox():
    faults = engine(max_hold=1.0)
    timeout, slow, held = faults.add([{"timeout": "60s"}, {"latency": "5s..90s"}, {"timeout": True}])
    assert (timeout.timeout, slow.latency, held.timeout) == (1.0, (1.0, 1.0), 1.0)
    assert faults.get(timeout.id)["timeout"] == "1000ms"


# ---- matching --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern, path, matches",
    [
        ("/v1/wallets/*/top-up", "/v1/wallets/wallet_1/top-up", True),
        ("/v1/wallets/*", "/v1/wallets/wallet_1", True),
        ("/v1/wallets/*", "/v1/wallets/wallet_1/top-up", False),
        ("/v1/wallets/**", "/v1/wallets/wallet_1/top-up", True),
        ("/v1/wallets", "/v1/wallets", True),
        ("/v1/wallets", "/v1/wallets/x", False),
        ("/v1/customers/cust_?", "/v1/customers/cust_1", True),
        ("/v1/wallets.*", "/v1/wallets/x", False),
    ],
)
def test_path_globs_match_by_segment(pattern, path, matches):
    assert PathGlob(pattern).match(path) is matches


def test_rules_match_on_method_path_operation_and_key():
    faults = engine()
    faults.add([{"method": "GET", "status": 500}])
    faults.add([{"operation": "createWallet", "status": 502}])
    faults.add([{"path": "/v1/wallets/*/top-up", "status": 503}], api_key="key-b")
    assert faults.decide("GET", "/v1/wallets/w", "getWallet", "key-a").status == 500
    assert faults.decide("POST", "/v1/wallets", "createWallet", "key-a").status == 502
    assert faults.decide(*TOP_UP) is None  # the top-up rule is key-b's alone
    assert faults.decide("POST", "/v1/wallets/w/top-up", "topUpWallet", "key-b").status == 503


def test_the_first_rule_that_fires_wins_and_every_match_is_counted():
    faults = engine()
    faults.add([{"nth": 2, "status": 503}, {"status": 500}])
    assert [f.status for f in (faults.decide(*TOP_UP) for _ in range(3))] == [500, 503, 500]
    first, second = faults.rules()
    assert (first["matches"], first["hits"]) == (3, 1)
    assert (second["matches"], second["hits"]) == (3, 2)


# ---- schedules -------------------------------------------------------------------------------


def test_always_nth_first_and_every():
    for rule, expected in [
        ({"reset": True}, ["reset"] * 4),
        ({"reset": True, "nth": 3}, [None, None, "reset", None, None]),
        ({"reset": True, "first": 2}, ["reset", "reset", None, None]),
        ({"reset": True, "every": 2}, [None, "reset", None, "reset", None, "reset"]),
    ]:
        faults = engine()
        faults.add([rule])
        assert kinds(faults, len(expected)) == expected, rule


def test_times_expires_a_rule_after_its_hits():
    faults = engine()
    faults.add([{"empty": True, "every": 2, "times": 2}])
    assert kinds(faults, 7) == [None, "empty", None, "empty", None, None, None]
    (rule,) = faults.rules()
    assert (rule["matches"], rule["hits"], rule["expired"]) == (4, 2, True)


def test_a_seeded_probability_replays_exactly_and_follows_the_seeds_draws():
    sequences = []
    for _ in range(2):
        faults = engine()
        faults.add([{"status": 503, "probability": 0.3, "seed": 42}])
        sequences.append(kinds(faults, 50))
    draws = Draws(42)  # one draw a match, in order: a run can be predicted from the seed
    assert sequences[0] == sequences[1] == ["status" if draws.random() < 0.3 else None for _ in range(50)]
    assert 5 < sequences[0].count("status") < 30  # it does vary, it is not all or nothing


def test_a_random_latency_is_drawn_from_the_rules_seed():
    delays = []
    for _ in range(2):
        faults = engine()
        faults.add([{"latency": "100ms..300ms", "seed": 9}])
        delays.append([faults.decide(*TOP_UP).delay for _ in range(5)])
    assert delays[0] == delays[1]
    assert all(0.1 <= d <= 0.3 for d in delays[0]) and len(set(delays[0])) == 5


def test_429_gets_a_retry_after_and_latency_can_go_before_a_status():
    faults = engine()
    faults.add([{"status": 429, "latency": "50ms"}])
    fault = faults.decide(*TOP_UP)
    assert (fault.kind, fault.status, fault.retry_after, fault.delay) == ("status", 429, 1, 0.05)
    assert fault.describe() == {
        "kind": "status",
        "rule": "fault_1",
        "delay_ms": 50.0,
        "status": 429,
        "retry_after": 1,
    }


# ---- list, remove, clear ---------------------------------------------------------------------


def test_list_remove_and_clear_by_key():
    faults = engine()
    faults.add([{"status": 500}])
    faults.add([{"status": 502}, {"status": 503}], api_key="key-a")
    faults.add([{"status": 504}], api_key="key-b")
    assert [r["status"] for r in faults.rules("key-a")] == [502, 503]
    assert faults.remove("fault_2")["status"] == 502
    assert faults.remove("fault_2") is None and faults.get("fault_2") is None
    assert faults.clear("key-a") == 1
    assert [r["status"] for r in faults.rules()] == [500, 504]
    assert faults.clear() == 2 and faults.rules() == []


# ---- one-off header and Prefer ---------------------------------------------------------------


def test_header_syntax():
    assert parse_header("status=429; retry-after=3") == {"status": "429", "retry-after": "3"}
    assert parse_header("lost-response") == {"lost-response": True}
    assert parse_header("malformed=not-json, latency=100ms..200ms") == {
        "malformed": "not-json",
        "latency": "100ms..200ms",
    }


@pytest.mark.parametrize(
    "header, kind, extra",
    [
        ("status=503", "status", {"status": 503}),
        ("status=429;retry_after=7", "status", {"retry_after": 7}),
        ("latency=200ms", "latency", {"delay": 0.2}),
        ("timeout", "timeout", {"hold": 30.0}),
        ("timeout=2s", "timeout", {"hold": 2.0}),
        ("reset", "reset", {}),
        ("empty", "empty", {}),
        ("malformed", "malformed", {"malformed": "truncated"}),
        ("lost-response", "lost_response", {}),
    ],
)
def test_one_off_faults(header, kind, extra):
    fault = engine().one_off(header)
    assert fault.kind == kind and fault.rule_id is None
    assert {name: getattr(fault, name) for name in extra} == extra


@pytest.mark.parametrize(
    "header, field",
    [("", "action"), ("status=abc", "status"), ("first=2;status=503", "first"), ("boom", "boom")],
)
def test_bad_one_off_headers(header, field):
    with pytest.raises(FaultError) as caught:
        engine().one_off(header)
    assert caught.value.field == field


def test_prefer_code():
    assert parse_prefer("code=404") == 404
    assert parse_prefer("return=minimal, code=503") == 503
    assert parse_prefer("return=minimal") is None and parse_prefer(None) is None
    with pytest.raises(FaultError, match="code: must be an integer"):
        parse_prefer("code=abc")


# ---- the file given at start -----------------------------------------------------------------


def test_a_fault_file_loads_a_list_or_a_faults_mapping(tmp_path):
    listed = tmp_path / "list.yaml"
    listed.write_text("- {status: 503, first: 2}\n- {latency: 20ms, path: /v1/wallets/**}\n")
    mapped = tmp_path / "mapped.yaml"
    mapped.write_text("faults:\n  - operation: topUpWallet\n    lost-response: true\n")
    assert [r.action for r in engine().load_file(listed)] == ["status", None]
    assert [r.operation for r in engine().load_file(mapped)] == ["topUpWallet"]


@pytest.mark.parametrize(
    "text, problem",
    [
        ("- {status: 503}\n- {status: 20}\n", "rules[1].status: must be from 400 to 599"),
        ("- status: [\n", "not valid YAML"),
        ("status: 503\n", "must hold a list of rules"),
    ],
)
def test_a_broken_fault_file_names_the_file_and_the_problem(tmp_path, text, problem):
    path = tmp_path / "faults.yaml"
    path.write_text(text)
    with pytest.raises(FaultFileError) as caught:
        engine().load_file(path)
    assert str(path) in str(caught.value) and problem in str(caught.value)


def test_a_missing_fault_file_says_so(tmp_path):
    with pytest.raises(FaultFileError, match="cannot be read"):
        engine().load_file(tmp_path / "nope.yaml")
