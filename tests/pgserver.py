"""A throwaway PostgreSQL server on a free loopback port, for the test suite."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def server_binary(name: str) -> str:
    """The newest installed PostgreSQL server binary called ``name``."""
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        candidate = Path(folder) / name
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(
            f"PostgreSQL's {name} is not installed: run `make test` (it installs it),"
            " or set TEST_DATABASE_URL to a server you have."
        )
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """Start a server in a temporary folder, yield its URL, then stop and remove it.

    As root, initdb and pg_ctl refuse to run, so they run as ``postgres``.
    Durability is switched off: the data dies with the test run anyway.
    """
    root = Path(tempfile.mkdtemp(prefix="pagedesk-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:
        account = pwd.getpwnam("postgres")
        os.chown(root, account.pw_uid, account.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    data, log, port = root / "data", root / "server.log", free_port()
    options = (
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1"
        " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    )
    try:
        subprocess.run(
            [*prefix, server_binary("initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"]
            + ["--no-sync", "-E", "UTF8", "--locale=C"],
            check=True,
            capture_output=True,
        )
        started = subprocess.run(
            [*prefix, server_binary("pg_ctl"), "-D", str(data), "-l", str(log), "-w"]
            + ["-o", options, "start"],
            capture_output=True,
        )
        if started.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not start:\n{log.read_text()}")
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                [*prefix, server_binary("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                capture_output=True,
            )
        shutil.rmtree(root, ignore_errors=True)
