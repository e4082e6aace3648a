"""The state-file keeper goes on saving whatever one save ran into: a bug in an export, like a
full disk, is logged once while it lasts and the next interval tries again."""

from __future__ import annotations

import json
import logging
import time

from mockserver import api
from mockserver.state import persist
from mockserver.state.store import Store

VERSION = api.DEFAULT


def test_the_keeper_survives_an_unexpected_failure_and_saves_once_it_passes(tmp_path, monkeypatch, caplog):
    store = Store()
    with store.session("sk_test_keeper", "") as world:
        world.alert_delay = world.alert_delay * 2
    real, failures = persist.save, [RuntimeError("a bug in an export")] * 5

    def save(*args):
        if failures:
            raise failures.pop()
        return real(*args)

    monkeypatch.setattr(persist, "save", save)
    caplog.set_level(logging.ERROR, logger="mockserver")
    path = tmp_path / "worlds.json"
    keeper = persist.Keeper(store, VERSION, path, interval=0.02)
    keeper.start()
    try:
        deadline = time.monotonic() + 5
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert path.exists(), "the keeper stopped saving after an unexpected failure"
        assert keeper._thread is not None and keeper._thread.is_alive()
    finally:
        keeper.stop()
    assert [w["api_key"] for w in json.loads(path.read_text())["worlds"]] == ["sk_test_keeper"]
    said = [r for r in caplog.records if "not saved" in r.getMessage()]
    assert len(said) == 1, [r.getMessage() for r in caplog.records]  # once, not at every interval
