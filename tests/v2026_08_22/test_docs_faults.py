"""docs/faults.md's retry test, run as written there against a live sandbox (its own socket, so
the lost response really drops the connection)."""

from __future__ import annotations

from ..support import docs_example


def test_the_retry_example_passes_against_a_live_sandbox(flexprice_server):
    example = docs_example("docs/faults.md", "retry")
    namespace: dict = {}
    exec(
        compile(example.replace("http://127.0.0.1:8080", flexprice_server.url), "docs/faults.md", "exec"),
        namespace,
    )
    namespace["test_top_up_survives_a_lost_response"]()  # its own assertions: a 409 on retry, credited once
