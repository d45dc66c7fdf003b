"""Console sign-in sessions, kept in the serving process.

The browser holds only a signed session id in an HttpOnly, SameSite=Lax cookie; the session
holds the *id* of the token it signed in with (never the token), its CSRF token and its
times. Every request re-admits the token by id (``WorkspaceService.principal_for``), so a
revoked or expired token ends the session at once. Sessions end after ``IDLE_SECONDS``
without a request, ``MAX_AGE_SECONDS`` after sign-in, at sign-out, or when the process
stops (several servers behind one address need sticky sessions; see README).

``seg console`` signs its browser in with a one-time link (``issue_link``): a random code
that admits one sign-in within ``LINK_SECONDS``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "COOKIE",
    "IDLE_SECONDS",
    "LINK_SECONDS",
    "MAX_AGE_SECONDS",
    "MAX_PER_TOKEN",
    "MAX_SESSIONS",
    "Session",
    "Sessions",
    "csrf_ok",
]

COOKIE = "seg_console"
IDLE_SECONDS = 8 * 3600
MAX_AGE_SECONDS = 24 * 3600
LINK_SECONDS = 120
MAX_SESSIONS = 10_000  # then new sign-ins wait for sessions to end (nobody is signed out)
MAX_PER_TOKEN = 20  # one token's sessions: its own oldest is signed out past this


@dataclass
class Session:
    id: str
    token_id: str
    secret_hash: str  # of the token's secret it signed in with: a rotation ends the session
    csrf: str
    created: float
    seen: float


class Sessions:
    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self._key = secrets.token_bytes(32)
        self._now = clock or time.monotonic
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._links: dict[str, tuple[str, str, float]] = {}
        self._lock = threading.Lock()

    def _sign(self, sid: str) -> str:
        return hmac.new(self._key, sid.encode(), hashlib.sha256).hexdigest()[:32]

    def cookie_value(self, session: Session) -> str:
        return f"{session.id}.{self._sign(session.id)}"

    def create(self, token_id: str, secret_hash: str) -> Session | None:
        """A new session for the token; None when the process holds ``MAX_SESSIONS`` live
        sessions (signing in many times only ever signs out the same token's oldest)."""
        now = self._now()
        session = Session(secrets.token_urlsafe(32), token_id, secret_hash,
                          secrets.token_urlsafe(32), now, now)  # fmt: skip
        with self._lock:
            for stale in [s.id for s in self._sessions.values() if self._ended(s, now)]:
                del self._sessions[stale]
            own = [s.id for s in self._sessions.values() if s.token_id == token_id]
            for oldest in own[: max(0, len(own) - MAX_PER_TOKEN + 1)]:
                del self._sessions[oldest]
            if len(self._sessions) >= MAX_SESSIONS:
                return None
            self._sessions[session.id] = session
        return session

    @staticmethod
    def _ended(session: Session, now: float) -> bool:
        return now - session.seen > IDLE_SECONDS or now - session.created > MAX_AGE_SECONDS

    def find(self, cookie: str | None) -> Session | None:
        """The live session a cookie names (its signature checked in constant time)."""
        if not cookie or len(cookie) > 200:
            return None
        sid, _, signature = cookie.partition(".")
        if not hmac.compare_digest(signature.encode(), self._sign(sid).encode()):
            return None
        now = self._now()
        with self._lock:
            session = self._sessions.get(sid)
            if session is None:
                return None
            if self._ended(session, now):
                del self._sessions[sid]
                return None
            session.seen = now
            self._sessions.move_to_end(sid)
        return session

    def end(self, session: Session) -> None:
        with self._lock:
            self._sessions.pop(session.id, None)

    def issue_link(self, token_id: str, secret_hash: str) -> str:
        """A one-time sign-in code for the token."""
        code = secrets.token_urlsafe(32)
        with self._lock:
            self._links[code] = (token_id, secret_hash, self._now() + LINK_SECONDS)
        return code

    def redeem(self, code: str) -> tuple[str, str] | None:
        """The token (id, secret hash) of a one-time code, once; None when unknown, used or
        expired."""
        with self._lock:
            found = self._links.pop(code, None)
            now = self._now()
            for stale in [c for c, (_, _, until) in self._links.items() if until < now]:
                del self._links[stale]
        if found is None or found[2] < now:
            return None
        return found[0], found[1]


def csrf_ok(session: Session, submitted: str) -> bool:
    return bool(submitted) and hmac.compare_digest(session.csrf.encode(), submitted.encode())
