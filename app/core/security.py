"""API keys with a role: ``read`` (recommendation routes) or ``write`` (everything); a per-key rate limit.

Key values never reach a log line: messages name the source and the entry number only.
"""

import hmac
import logging
import math
import os
import secrets
import sys
import threading
from enum import StrEnum
from pathlib import Path
from time import monotonic

from app.core.config import Settings

KEY_FILE = "api_keys"
log = logging.getLogger("semrec.security")


class Role(StrEnum):
    read = "read"
    write = "write"


def parse_keys(spec: str, source: str = "SEMREC_API_KEYS") -> dict[str, Role]:
    """Parse ``key:role,key:role`` (or one pair a line; ``#`` starts a comment line); a malformed pair is
    an error naming its position, never its value."""
    lines = [line for line in spec.splitlines() if not line.lstrip().startswith("#")]
    keys: dict[str, Role] = {}
    for n, pair in enumerate(p.strip() for p in ",".join(lines).split(",")):
        if not pair:
            continue
        key, sep, role = pair.rpartition(":")
        if not sep or not key or role not in Role.__members__:
            raise ValueError(f"{source}: entry {n + 1} must be key:read or key:write")
        keys[key] = Role(role)
    return keys


def key_file(settings: Settings) -> Path | None:
    """The key file to follow: SEMREC_API_KEYS_FILE; with no key configured at all, the one kept in the data
    dir, generated (and printed, once) at first start."""
    if settings.api_keys_file is not None:
        return settings.api_keys_file
    if settings.api_keys.strip():
        return None
    path = settings.data_dir / KEY_FILE
    if not path.exists():
        _generate(path)
    return path


def _generate(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process of the same service was first
        return
    with os.fdopen(fd, "w") as f:
        f.write(f"{key}:write\n")
    # Printed, not logged: the operator must see it once, and log pipelines must never hold it.
    print(
        f"\n  semrec: no SEMREC_API_KEYS set; generated a write API key (kept in {path}):\n\n      {key}\n",
        file=sys.stderr,
        flush=True,
    )


def role_of(presented: str | None, keys: dict[str, Role]) -> Role | None:
    """Compare against every key in constant time, so timing tells nothing about near misses."""
    if not presented:
        return None
    found = None
    candidate = presented.encode()
    for key, role in keys.items():
        if hmac.compare_digest(candidate, key.encode()):
            found = role
    return found


class KeyStore:
    """The keys in force: the static ones from SEMREC_API_KEYS plus those of a key file, which is re-read when
    it changes (checked at most every ``check_seconds``), so keys rotate without a restart. A file that
    cannot be read or parsed keeps the keys in force and logs an error."""

    check_seconds = 1.0

    def __init__(self, static: dict[str, Role], path: Path | None) -> None:
        self.static = static
        self.path = path
        self._lock = threading.Lock()
        self._checked_at = monotonic()
        self._signature: tuple | None = None
        self._keys = static
        if path is not None:
            self._signature = _signature(path)
            self._keys = {**static, **_read(path)}  # a bad file at start stops the start

    @classmethod
    def from_settings(cls, settings: Settings) -> "KeyStore":
        return cls(parse_keys(settings.api_keys), key_file(settings))

    def role_of(self, presented: str | None) -> Role | None:
        return role_of(presented, self.keys())

    def keys(self) -> dict[str, Role]:
        if self.path is not None and monotonic() - self._checked_at >= self.check_seconds:
            # Requests never queue behind a reload: whoever finds the lock taken uses the keys in force.
            if self._lock.acquire(blocking=False):
                try:
                    self._checked_at = monotonic()
                    self._reload_if_changed()
                finally:
                    self._lock.release()
        return self._keys

    def _reload_if_changed(self) -> None:
        signature = _signature(self.path)
        if signature == self._signature:
            return
        self._signature = signature  # a bad version is reported once, not at every check
        try:
            keys = _read(self.path)
        except (OSError, ValueError) as exc:
            log.error("API key file not reloaded, keeping the keys in force: %s", exc)
            return
        self._keys = {**self.static, **keys}
        log.info("API keys reloaded from %s: %d keys", self.path, len(self._keys))


def _signature(path: Path) -> tuple | None:
    """What changes when the file is rewritten or replaced (a rename, a Kubernetes secret's symlink swap);
    None while it cannot be looked at."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


def _read(path: Path) -> dict[str, Role]:
    keys = parse_keys(path.read_text(), source=str(path))
    if not keys:
        raise ValueError(f"{path}: holds no key")
    return keys


class RateLimiter:
    """A token bucket per API key: ``per_second`` requests on average, up to ``burst`` at once. O(1) per
    request under one short lock; buckets fill lazily from the elapsed time, so no background thread."""

    def __init__(self, per_second: float, burst: int) -> None:
        self.per_second = per_second
        self.burst = burst or max(1, math.ceil(per_second))
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, when counted)
        self._lock = threading.Lock()

    def wait_seconds(self, key: str) -> float:
        """0 and a token taken if the key may send now, else how long until it may."""
        now = monotonic()
        with self._lock:
            tokens, counted_at = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - counted_at) * self.per_second)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0.0
            self._buckets[key] = (tokens, now)
        return (1 - tokens) / self.per_second
