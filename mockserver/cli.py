"""``flexprice-mock`` / ``python -m mockserver``: start a sandbox from flags and environment."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from . import api, text
from .config import ENV_PREFIX, ConfigError, Settings
from .http import logs

DEFAULT_FIXTURES = "fixtures"  # looked for in the working directory
log = logging.getLogger("mockserver")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        """A bad flag stops the start in one line, as every other bad setting does."""
        self.exit(2, f"{self.prog}: {message} (see --help)\n")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = _Parser(
        prog="flexprice-mock",
        description="A local, stateful, spec-validated Flexprice Wallets API sandbox, serving API "
        f"version {api.DEFAULT} by default (also: {', '.join(api.VERSIONS[:-1])}). "
        f"Every option can also be set as {ENV_PREFIX}<OPTION> (e.g. {ENV_PREFIX}PORT). "
        "'flexprice-mock health' asks a running sandbox whether it is healthy (exit 0 or 1); "
        "'flexprice-mock trigger EVENT' makes it raise a webhook event now.",
    )
    parser.add_argument(
        "--api-version",
        metavar="VERSION",
        help=f"Flexprice API version to serve: {', '.join(api.VERSIONS)} or latest (default {api.DEFAULT})",
    )
    parser.add_argument("--host", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default 8080; 0 picks a free one)")
    parser.add_argument("--spec", help="OpenAPI document to serve (default: the API version's own)")
    parser.add_argument("--faults", help="YAML file of fault rules to load at start")
    parser.add_argument(
        "--fault-max-hold",
        type=int,
        help="longest a timeout or latency fault holds a request, seconds (default 30)",
    )
    parser.add_argument(
        "--fixtures",
        help="directory (or one file) of fixture YAML files loaded into "
        f"every new world (default: ./{DEFAULT_FIXTURES} when it exists)",
    )
    parser.add_argument(
        "--no-fixtures",
        action="store_true",
        help=f"start with empty worlds even when ./{DEFAULT_FIXTURES} exists",
    )
    parser.add_argument(
        "--journal-size",
        type=int,
        help="requests kept per world in the request journal (default 1000; 0: none)",
    )
    parser.add_argument("--id-seed", type=int, help="seed for deterministic ids")
    parser.add_argument("--max-body-bytes", type=int, help="largest request body accepted (413 above)")
    parser.add_argument(
        "--max-worlds",
        type=int,
        help="most worlds (API key + environment) held at once (default 10000; 429 above)",
    )
    parser.add_argument(
        "--max-objects-per-world",
        type=int,
        help="most objects one world holds: customers, wallets, transactions, invoices, catalog, "
        "subscriptions, event ids, future-dated events, distinct values... (default 200000; 429 above)",
    )
    parser.add_argument(
        "--admin-token",
        help="require this X-Mock-Admin-Token on /_mock/ controls, from any address "
        "(default: no token, loopback clients only)",
    )
    parser.add_argument(
        "--admin-from",
        metavar="CIDR[,CIDR...]",
        help="let clients from these networks use /_mock/ controls without a token, e.g. the "
        "container network 10.88.0.0/16 (default: none)",
    )
    parser.add_argument(
        "--allowed-hosts",
        metavar="HOST[,HOST...]",
        help="names requests may be addressed to (Host) besides localhost, 127.0.0.1 and [::1]; "
        ".example.test for a domain and its subdomains; * for any (default: none; checked when "
        "listening on loopback, or when given)",
    )
    parser.add_argument(
        "--allowed-origins",
        metavar="ORIGIN[,ORIGIN...]",
        help="web pages (origins, e.g. http://localhost:3000) that may use the /_mock/ controls "
        "besides the sandbox's own dashboard (default: none)",
    )
    parser.add_argument(
        "--state-file",
        help="keep every world in this file: loaded at start, saved at stop and every interval",
    )
    parser.add_argument(
        "--state-save-interval",
        type=int,
        help="seconds between saves of the state file when something changed (default 10; 0: at stop only)",
    )
    parser.add_argument(
        "--idle-timeout",
        type=int,
        help="seconds a connection may wait for its next request before it is closed (default 60)",
    )
    parser.add_argument(
        "--request-timeout",
        type=int,
        help="seconds a request's head and body have to arrive, from its first byte (default 15; then 408)",
    )
    parser.add_argument(
        "--store",
        metavar="URL",
        help="where worlds live: memory (default, this process) or redis://host:port/db, shared by "
        "every sandbox process on that Redis",
    )
    parser.add_argument(
        "--redis-prefix",
        help="prefix of every Redis key, so that several sandboxes can share one Redis "
        "(default flexprice-mock:; the API version follows it)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        help="processes serving the port (default 1; more than one needs --store redis://...)",
    )
    parser.add_argument("--webhook-url", help="give every world a webhook endpoint at this URL")
    parser.add_argument("--webhook-secret", help="its whsec_ secret (default: one generated at start)")
    parser.add_argument(
        "--webhook-timeout", type=int, help="seconds a webhook receiver has to answer (default 15)"
    )
    parser.add_argument(
        "--validate-responses",
        action="store_const",
        const=True,
        help="the sandbox checks itself: every response against the spec, and that a refused request "
        "changed nothing (a bug in the sandbox gives 500)",
    )
    parser.add_argument(
        "--min-fidelity",
        choices=("modelled", "stored", "schema", "none"),
        help="refuse (501 not_implemented) every operation answered below this level, e.g. modelled "
        "so that no test passes on an answer without upstream's rules (default none: every "
        "operation answers as it is bound)",
    )
    parser.add_argument(
        "--quiet", dest="log_requests", action="store_const", const=False, help="no log line per request"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["health"]:  # a probe: answered without loading the server
        from .health import main as health

        return health(argv[1:])
    if argv[:1] == ["trigger"]:  # a client of a running sandbox, like health
        from .trigger_command import main as trigger

        return trigger(argv[1:])
    args = parse_args(argv)
    logs.configure()
    no_fixtures = vars(args).pop("no_fixtures")
    try:
        settings = Settings.from_env(**vars(args))
    except ConfigError as exc:
        print(f"flexprice-mock: {exc}", file=sys.stderr)
        return 2
    try:
        settings.api_version = api.resolve(settings.api_version)
    except ValueError as exc:
        print(f"flexprice-mock: --api-version: {exc}", file=sys.stderr)
        return 2
    if no_fixtures:
        settings.fixtures = None
    elif settings.fixtures is None and os.path.isdir(DEFAULT_FIXTURES):
        settings.fixtures = DEFAULT_FIXTURES
    _warn_of_open_controls(settings)
    if settings.webhook_url and not settings.webhook_secret:
        from .webhooks.signing import new_secret

        settings.webhook_secret = new_secret()  # one secret, whichever process makes the endpoint
    from .http.server import ListenError, serve, serve_workers

    try:
        if settings.workers > 1:
            return serve_workers(lambda: _build_or_exit(settings), settings)
        app = _build(settings)
    except (_StartError, ListenError) as exc:
        print(f"flexprice-mock: {exc}", file=sys.stderr)
        return 2
    return _serve_alone(app, settings, serve)


def _warn_of_open_controls(settings: Settings) -> None:
    """Allowed, but said at start: controls that any network may use without a token."""
    everyone = [str(n) for n in text.networks(settings.admin_from) if n.prefixlen == 0]
    if everyone:
        log.warning(
            "--admin-from %s lets every client that reaches the port use the sandbox controls "
            "(reset, state, faults) without a token; list only the networks you trust",
            ", ".join(everyone),
        )


class _StartError(Exception):
    """A setting, file or document that stops the start (one line, exit 2)."""


def _build(settings: Settings):
    """The app; a shared store is named in the log (or said to be unreachable) at start."""
    from .controls.fixtures import FixtureError
    from .faults.rules import FaultFileError
    from .http.app import create_app
    from .http.spec import SpecError
    from .http.store_errors import api_error
    from .state.errors import StoreError
    from .webhooks.endpoints import WebhookError

    try:
        app = create_app(settings)
    except (SpecError, FaultFileError, FixtureError, WebhookError) as exc:
        raise _StartError(str(exc)) from None
    if settings.store != "memory":
        try:
            described = app.extensions["mockserver"].store.describe()
            log.info("store: %s (%d worlds)", _store_name(settings), described["worlds"])
        except StoreError as error:  # Redis down: serve anyway, with 503s until it is back
            log.warning(
                "store: %s is not reachable yet (%s); API calls answer 503 until it is",
                _store_name(settings),
                api_error(error).internal_error,
            )
    return app


def _build_or_exit(settings: Settings):
    """In a worker process: the app, or the start error said in one line and exit status 2."""
    try:
        return _build(settings)
    except _StartError as exc:
        print(f"flexprice-mock: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _store_name(settings: Settings) -> str:
    return f"{settings.store} (keys {settings.redis_prefix}{settings.api_version}:*)"


def _serve_alone(app, settings: Settings, serve) -> int:
    from .http.server import ListenError
    from .state.persist import Keeper, PersistError

    keeper = None
    if settings.state_file:
        sandbox = app.extensions["mockserver"]
        keeper = Keeper(
            sandbox.store, sandbox.version.name, settings.state_file, settings.state_save_interval
        )
        try:
            loaded = keeper.load()
        except PersistError as exc:
            print(f"flexprice-mock: {exc}", file=sys.stderr)
            return 2
        log.info(
            "state file %s: %d worlds loaded; saved every %ss and at stop",
            settings.state_file,
            loaded,
            settings.state_save_interval,
        )
        keeper.start()
    try:
        serve(app, settings)
    except ListenError as exc:
        print(f"flexprice-mock: {exc}", file=sys.stderr)
        return 2
    finally:
        if keeper is not None:
            keeper.stop()
    return 0
