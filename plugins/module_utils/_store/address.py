# -*- coding: utf-8 -*-
# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to this collection: not a public API, may change without notice.
"""Where the store and its state-message spool are: option, else environment, else the default."""

from __future__ import annotations

import os
import re
from urllib.parse import unquote, urlsplit


def default_data_dir(env=None):
    """``$XDG_DATA_HOME/patchwave`` (``~/.local/share/patchwave`` when unset)."""
    env = os.environ if env is None else env
    base = env.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "patchwave")


def resolve_store_address(store=None, env=None):
    """Return the store address: the option, else ``PATCHWAVE_STORE``, else the default file.

    A file path has ``~`` expanded; nothing else is expanded: ``expandvars`` would corrupt a
    PostgreSQL DSN whose password holds a ``$``.
    """
    env = os.environ if env is None else env
    address = str(store or env.get("PATCHWAVE_STORE") or os.path.join(default_data_dir(env), "patchwave.db"))
    if is_postgresql(address):
        return address
    return os.path.expanduser(address)


def is_postgresql(address):
    return address.startswith(("postgresql://", "postgres://"))


def resolve_spool(spool=None, store=None, env=None):
    """Return the state-message spool folder for a store address: the option, else ``PATCHWAVE_SPOOL``, else beside the store."""
    env = os.environ if env is None else env
    if spool or env.get("PATCHWAVE_SPOOL"):
        # A path everywhere: user and variables expanded, as Ansible's ``type: path`` does.
        return os.path.expanduser(os.path.expandvars(str(spool or env.get("PATCHWAVE_SPOOL"))))
    address = resolve_store_address(store, env)
    if is_postgresql(address):
        return os.path.join(default_data_dir(env), "spool")
    return os.path.join(os.path.dirname(os.path.abspath(address)), "spool")


def redact(address):
    """The address with any password removed, for messages."""
    if is_postgresql(address):
        address = re.sub(r"([?&])password=[^&]*&?", r"\1", address).rstrip("?&")
        if "@" in address:
            scheme, rest = address.split("://", 1)
            creds, host = rest.rsplit("@", 1)
            user = creds.split(":", 1)[0]
            return "%s://%s@%s" % (scheme, user, host)
    return address


def secrets_of(address):
    """The password(s) in a PostgreSQL store address, as written and percent-decoded; empty for a file.

    Modules add them to ``no_log_values`` so that Ansible masks them in the returned ``invocation``
    and in messages: the ``store`` option is not ``no_log`` as a whole, its host and path are worth seeing.
    """
    address = str(address or "")
    if not is_postgresql(address):
        return set()
    try:
        parts = urlsplit(address)
    except ValueError:  # not a URL after all; the store says so when it is opened
        return set()
    secrets = set(re.findall(r"(?:^|&)password=([^&]*)", parts.query))
    if "@" in parts.netloc:
        credentials = parts.netloc.rsplit("@", 1)[0]
        if ":" in credentials:
            secrets.add(credentials.split(":", 1)[1])
    secrets.update([unquote(secret) for secret in secrets])
    return set(secret for secret in secrets if secret)
