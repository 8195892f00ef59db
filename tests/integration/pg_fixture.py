# SPDX-License-Identifier: MIT
"""A throw-away PostgreSQL 15 + PostGIS cluster for the PostGIS store tests (scripts/pg-temp.sh:
initdb in a temporary directory, a free loopback port, the socket in that directory). spp gets
the password from PGPASSWORD, as in production: never in the URI."""
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import ROOT

SCRIPT = os.path.join(ROOT, "scripts", "pg-temp.sh")
PSQL = "/usr/lib/postgresql/15/bin/psql"


class Cluster:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="spp-pg-")
        os.rmdir(self.dir)  # pg-temp.sh makes it, owned by the cluster's user
        out = subprocess.run([SCRIPT, "start", self.dir], capture_output=True, text=True,
                             check=True)
        self.uri = out.stdout.strip().splitlines()[-1]
        with open(os.path.join(self.dir, "password"), encoding="ascii") as f:
            self.password = f.read().strip()
        with open(os.path.join(self.dir, "port"), encoding="ascii") as f:
            self.port = int(f.read())
        self.n_dbs = 0

    def env(self, **extra):
        """The environment spp runs in: the password in PGPASSWORD."""
        env = dict(os.environ, PGPASSWORD=self.password)
        env.update(extra)
        return env

    def psql(self, sql, db="spp"):
        p = subprocess.run([PSQL, "-X", "-qAt", "-v", "ON_ERROR_STOP=1", "-c", sql,
                            f"postgresql://spp@127.0.0.1:{self.port}/{db}"],
                           capture_output=True, text=True, env=self.env(), check=True)
        return p.stdout.strip()

    def new_db(self, name=None):
        """A fresh empty database (spp init creates the postgis extension); its URI."""
        self.n_dbs += 1
        name = name or f"t{self.n_dbs}"
        self.psql(f'CREATE DATABASE "{name}"', db="postgres")
        return f"postgresql://spp@127.0.0.1:{self.port}/{name}"

    def kill(self):
        """The database goes away at once (SIGQUIT: no shutdown checkpoint)."""
        subprocess.run([SCRIPT, "kill", self.dir], capture_output=True, check=True)

    def restart(self):
        subprocess.run([SCRIPT, "restart", self.dir], capture_output=True, check=True)

    def clean(self):
        subprocess.run([SCRIPT, "clean", self.dir], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_cluster():
    """One cluster per test session. PGPASSWORD is set for every spp the session starts."""
    c = Cluster()
    old = os.environ.get("PGPASSWORD")
    os.environ["PGPASSWORD"] = c.password
    yield c
    if old is None:
        os.environ.pop("PGPASSWORD", None)
    else:
        os.environ["PGPASSWORD"] = old
    c.clean()
