"""The system user embedded PostgreSQL runs as when paulp runs as root (ADR 0499)."""

from __future__ import annotations

import grp
import os
import pwd
import secrets
import shutil
import subprocess

from paulp.adapters.services_embedded import _add_system_user, _pg_owner


def _sbin(tool: str) -> str:
    found = shutil.which(tool, path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))
    assert found is not None, f"{tool} not found"
    return found


def test_add_system_user_when_a_group_of_that_name_exists_then_the_user_joins_it():
    """Seen on a machine whose image had the group ``embedded_postgres`` but no such user: ``useradd`` refused
    ("group embedded_postgres exists"), so every command that starts its own PostgreSQL failed. Only root
    creates the user: as anyone else, PostgreSQL runs as the caller and no user is looked up or made."""
    if os.geteuid() != 0:
        assert _pg_owner() is None
        return
    name = f"paulp_t{secrets.token_hex(3)}"
    subprocess.run([_sbin("groupadd"), name], check=True)
    try:
        _add_system_user(name)
        assert pwd.getpwnam(name).pw_gid == grp.getgrnam(name).gr_gid
    finally:
        subprocess.run([_sbin("userdel"), name], check=False, capture_output=True)
        subprocess.run([_sbin("groupdel"), name], check=False, capture_output=True)
