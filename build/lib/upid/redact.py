"""Secrets out of everything upid records or prints: command lines (the audit log) and URLs (messages).

One place, used for every command: the values of flags that carry a secret (`--token`, `--password`, any
`--...-token`/`--...-password`/`--...-secret`, but not `--token-file`, which is a path), the password of a URL's
user info (`https://user:pass@host`, `postgresql://user:pass@host/db`), and secret query parameters
(`?password=`, `?token=`, `?access_token=`, `?api_key=`) become `***`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

MASK = "***"
_SECRET_FLAG = re.compile(r"^--?[\w-]*(password|passwd|token|secret|api-key|apikey)$", re.IGNORECASE)
_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:@/\s]*):(?P<password>[^@/\s]*)@", re.IGNORECASE)
_QUERY = re.compile(
    r"(?P<key>[?&;](?:password|passwd|pwd|token|access_token|api_key|apikey|secret)=)(?P<value>[^&;#\s]*)",
    re.IGNORECASE,
)


def url(text: str) -> str:
    """The text with URL passwords and secret query parameters masked."""
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    return _QUERY.sub(lambda m: f"{m['key']}{MASK}", text)


def _secret_flag(arg: str) -> bool:
    return bool(_SECRET_FLAG.match(arg)) and not arg.lower().endswith("-file")


def argv(args: Sequence[str]) -> list[str]:
    """A command line as it may be stored: secret flag values (`--token X`, `--token=X`) masked, URLs too."""
    out: list[str] = []
    hide_next = False
    for arg in args:
        if hide_next:
            out.append(MASK)
            hide_next = False
            continue
        flag, eq, _ = arg.partition("=")
        if flag.startswith("-") and _secret_flag(flag):
            if eq:
                out.append(f"{flag}={MASK}")
            else:
                out.append(arg)
                hide_next = True
            continue
        out.append(url(arg))
    return out
