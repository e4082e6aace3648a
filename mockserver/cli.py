"""``flexprice-mock`` / ``python -m mockserver``: start a sandbox from flags and environment."""
from __future__ import annotations

import argparse
import logging
import sys

from .config import ENV_PREFIX, Settings
from .spec import SpecError


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="flexprice-mock",
        description="A local, stateful, spec-validated Flexprice Wallets API sandbox. "
                    f"Every option can also be set as {ENV_PREFIX}<OPTION> (e.g. {ENV_PREFIX}PORT).")
    parser.add_argument("--host", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default 8080; 0 picks a free one)")
    parser.add_argument("--spec", help="OpenAPI document to serve (default: the bundled openapi.yaml)")
    parser.add_argument("--faults", help="YAML file of fault rules to load at start")
    parser.add_argument("--fixtures", help="directory of fixture YAML files")
    parser.add_argument("--id-seed", type=int, help="seed for deterministic ids")
    parser.add_argument("--max-body-bytes", type=int, help="largest request body accepted (413 above)")
    parser.add_argument("--threads", type=int, help="worker threads (default 8)")
    parser.add_argument("--validate-responses", action="store_const", const=True,
                        help="check every response against the spec (a bug in the sandbox gives 500)")
    parser.add_argument("--quiet", dest="log_requests", action="store_const", const=False,
                        help="no log line per request")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s",
                        stream=sys.stderr)
    settings = Settings.from_env(**vars(args))
    from .app import create_app
    from .server import serve
    try:
        app = create_app(settings)
    except SpecError as exc:
        print(f"flexprice-mock: {exc}", file=sys.stderr)
        return 2
    serve(app, settings.host, settings.port, settings.threads)
    return 0
