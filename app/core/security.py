"""API keys with a role: ``read`` (recommendation routes) or ``write`` (everything)."""

import hmac
import os
import secrets
import sys
from enum import StrEnum
from pathlib import Path

KEY_FILE = "api_keys"


class Role(StrEnum):
    read = "read"
    write = "write"


def parse_keys(spec: str, source: str = "SEMREC_API_KEYS") -> dict[str, Role]:
    """Parse ``key:role,key:role``; a malformed pair stops the start with a message naming it."""
    keys: dict[str, Role] = {}
    for n, pair in enumerate(p.strip() for p in spec.replace("\n", ",").split(",")):
        if not pair:
            continue
        key, sep, role = pair.rpartition(":")
        if not sep or not key or role not in Role.__members__:
            raise ValueError(f"{source}: entry {n + 1} must be key:read or key:write")
        keys[key] = Role(role)
    return keys


def load_keys(spec: str, data_dir: Path) -> dict[str, Role]:
    """Keys from the setting; without one, the write key kept in the data dir, generated (and printed) once."""
    if spec.strip():
        return parse_keys(spec)
    path = data_dir / KEY_FILE
    if path.exists():
        return parse_keys(path.read_text(), source=str(path))
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"{key}:write\n")
    print(
        f"\n  semrec: no SEMREC_API_KEYS set; generated a write API key (kept in {path}):\n\n      {key}\n",
        file=sys.stderr,
        flush=True,
    )
    return {key: Role.write}


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
