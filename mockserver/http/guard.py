"""Who may reach the sandbox, and from where.

The sandbox runs beside the developer's browser, and a browser is the threat: any page it shows
can send "simple" requests (a form post, a ``no-cors`` fetch, ``text/plain`` bodies) to any
address, loopback included, without asking first; and a page whose name is made to resolve to
127.0.0.1 (DNS rebinding) can read the answers. So, in this order:

1. **Host**: a request must be addressed to a name only this machine answers to (``localhost``,
   a loopback address) or one listed in ``--allowed-hosts``; checked on every route when the
   sandbox listens on loopback, and wherever it listens once the flag is given.
2. **Origin**: a control is never used by another site's page: a browser request whose
   ``Origin`` is not the sandbox's own (or listed in ``--allowed-origins``), or that says it is
   ``Sec-Fetch-Site: cross-site``, is refused.
3. **Admin gate**: controls answer loopback clients (addressed by a local name), clients from
   the ``--admin-from`` networks, or, once ``--admin-token`` is set, whoever sends it.
4. **Body type**: a control's body is JSON (YAML where the control reads YAML) by its declared
   type, never one of the types a browser may send across sites unasked.

Tests, curl and the SDKs send no ``Origin``, address the sandbox by its name and declare JSON:
nothing here is in their way. The health check is open to every probe.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from werkzeug import Request

from .. import text
from ..config import Settings
from ..domain.errors import ApiError
from . import auth

UI_PATH = "/_mock/ui"
JSON_TYPES = ("application/json",)
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Guard:
    loopback_listener: bool  # the sandbox listens on a loopback address only
    allowed_hosts: frozenset[str]
    allowed_origins: frozenset[str]
    admin_from: tuple[text.Network, ...]
    admin_token: str | None

    @classmethod
    def of(cls, settings: Settings) -> Guard:
        return cls(
            listens_on_loopback(settings.host),
            text.host_patterns(settings.allowed_hosts),
            text.origins(settings.allowed_origins),
            text.networks(settings.admin_from),
            settings.admin_token,
        )

    # ---- 1. host ---------------------------------------------------------------------------

    def _host_name(self, req: Request) -> str | None:
        header = req.headers.get("Host")
        return text.host_name(header) if header is not None else "localhost"

    def _addressed_locally(self, name: str | None) -> bool:
        return name is not None and (text.is_local_name(name) or text.host_matches(name, self.allowed_hosts))

    def host_refusal(self, req: Request) -> ApiError | None:
        """A request addressed to a name that may have been pointed here by someone else's DNS."""
        checked = self.loopback_listener or bool(self.allowed_hosts)
        name = self._host_name(req)
        if not checked or self._addressed_locally(name):
            return None
        listed = ", ".join(sorted(self.allowed_hosts)) or "none"
        shown = name or req.headers.get("Host", "")
        return ApiError(
            403,
            f"Requests addressed to {shown!r} are refused: the sandbox answers requests addressed to "
            f"localhost, 127.0.0.1, [::1] or a name in --allowed-hosts ({listed}); to reach it as "
            f"{shown!r}, start it with --allowed-hosts {shown} (FLEXPRICE_MOCK_ALLOWED_HOSTS)",
            "host not allowed",
            {"host": req.headers.get("Host"), "setting": "--allowed-hosts"},
        )

    # ---- 2. origin -------------------------------------------------------------------------

    def origin_refusal(self, req: Request) -> ApiError | None:
        """A control called by a page of another site (a browser says which in ``Origin``)."""
        sent = req.headers.get("Origin")
        if sent is None:
            if req.headers.get("Sec-Fetch-Site", "").lower() != "cross-site" or _opens_the_page(req):
                return None
            shown = "a page of another site (Sec-Fetch-Site: cross-site)"
        else:
            normal = text.origin(sent)
            if normal is not None and (normal in self.allowed_origins or normal in _own_origins(req)):
                return None
            shown = f"a page at {sent}"
        return ApiError(
            403,
            f"Cross-site request refused: {shown} may not use the sandbox's controls; to let a page "
            "of yours use them, start the sandbox with --allowed-origins ORIGIN "
            "(FLEXPRICE_MOCK_ALLOWED_ORIGINS)",
            "cross-site request",
            {"origin": sent, "setting": "--allowed-origins"},
        )

    # ---- 3. admin gate ---------------------------------------------------------------------

    def admin_refusal(self, req: Request) -> ApiError | None:
        """A control called by a client that is neither local, nor from a trusted network, nor
        holding the admin token."""
        client = req.remote_addr or "an unknown client"
        if text.in_networks(client, self.admin_from):
            return None
        token = self.admin_token
        if token is None:
            if text.is_local_name(client) and self._addressed_locally(self._host_name(req)):
                return None
        elif hmac.compare_digest(_sent_token(req).encode(), token.encode()):
            return None
        networks = ", ".join(map(str, self.admin_from)) or "none set"
        if token is None:
            ways = (
                "loopback clients, clients from the --admin-from networks "
                f"({networks}), or, once --admin-token is set, requests that send it"
            )
        else:
            ways = (
                f"requests that send the --admin-token in the {auth.ADMIN_TOKEN_HEADER} header "
                f"(loopback clients too), or clients from the --admin-from networks ({networks})"
            )
        return ApiError(
            403,
            f"Sandbox controls refuse {client}: they answer {ways}",
            "admin token required" if token else "controls answer loopback clients only",
            {"path": req.path, "client": req.remote_addr, "settings": ["--admin-from", "--admin-token"]},
        )

    # ---- 4. body type ----------------------------------------------------------------------

    @staticmethod
    def body_type_refusal(req: Request, reads_yaml: bool) -> ApiError | None:
        """A control's body declared as anything but JSON (or YAML, where the control reads it).

        A write without a body may declare nothing; one with a body must say what it is.
        """
        if req.method not in WRITES:
            return None
        declared = req.mimetype
        accepted = JSON_TYPES + (YAML_TYPES if reads_yaml else ())
        if declared in accepted or declared.endswith("+json"):
            return None
        has_body = bool(req.content_length) or "chunked" in req.headers.get("Transfer-Encoding", "").lower()
        if not declared and not has_body:
            return None
        wanted = "a JSON or YAML body" if reads_yaml else "a JSON body"
        types = "application/json or application/yaml" if reads_yaml else "application/json"
        return ApiError(
            415,
            f"{req.method} {req.path} takes {wanted}: send it with Content-Type: {types}, "
            f"not {declared or 'no Content-Type'}",
            "unsupported content type",
            {"content_type": declared or None, "accepted": list(accepted)},
        )


def listens_on_loopback(host: str) -> bool:
    """Whether the listening address is loopback only (``127.0.0.1``, ``::1``, ``localhost``)."""
    return text.is_local_name(host.strip().strip("[]").lower())


def _own_origins(req: Request) -> tuple[str, ...]:
    """The origins of a page the sandbox served at the address this request was sent to."""
    host = req.headers.get("Host", "")
    return tuple(o for o in (text.origin(f"http://{host}"), text.origin(f"https://{host}")) if o)


def _opens_the_page(req: Request) -> bool:
    """A link to the dashboard followed from another site: the page opens (it shows no key and
    carries no cookie across sites); only what it then does is checked."""
    return (
        req.method == "GET"
        and req.path == UI_PATH
        and req.headers.get("Sec-Fetch-Mode", "").lower() == "navigate"
        and req.headers.get("Sec-Fetch-Dest", "").lower() == "document"
    )


def _sent_token(req: Request) -> str:
    """The admin token as a client sends it: a header, or (a browser cannot set one) the
    dashboard's address once, then its same-site cookie."""
    return (
        req.headers.get(auth.ADMIN_TOKEN_HEADER)
        or req.cookies.get(auth.ADMIN_TOKEN_COOKIE)
        or (req.args.get("admin_token") if req.path == UI_PATH else None)
        or ""
    )
