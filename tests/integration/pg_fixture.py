# SPDX-License-Identifier: MIT
"""A throw-away PostgreSQL 15 + PostGIS cluster for the PostGIS store tests (scripts/pg-temp.sh:
initdb in a temporary directory, a free loopback port, the socket in that directory). spp gets
the password from PGPASSWORD, as in production: never in the URI."""
import os
import shutil
import signal
import subprocess
import tempfile

import pytest

from conftest import ROOT, free_port

SCRIPT = os.path.join(ROOT, "scripts", "pg-temp.sh")
BIN = "/usr/lib/postgresql/15/bin"
PSQL = BIN + "/psql"


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

    def psql(self, sql, db="spp", port=None):
        p = subprocess.run([PSQL, "-X", "-qAt", "-v", "ON_ERROR_STOP=1", "-c", sql,
                            f"postgresql://spp@127.0.0.1:{port or self.port}/{db}"],
                           capture_output=True, text=True, env=self.env(), check=True)
        return p.stdout.strip()

    def new_db(self, name=None):
        """A fresh empty database (spp init creates the postgis extension); its URI."""
        self.n_dbs += 1
        name = name or f"t{self.n_dbs}"
        self.psql(f'CREATE DATABASE "{name}"', db="postgres")
        return f"postgresql://spp@127.0.0.1:{self.port}/{name}"

    def start_pgbouncer(self, pool_size=2):
        """pgbouncer in transaction mode in front of the cluster (its socket, as the cluster's
        owner); few server connections for many clients. Returns its port."""
        port = free_port()
        ini = os.path.join(self.dir, "pgbouncer.ini")
        users = os.path.join(self.dir, "userlist.txt")
        with open(users, "w", encoding="ascii") as f:
            f.write(f'"spp" "{self.password}"\n')
        with open(ini, "w", encoding="ascii") as f:
            f.write(f"""[databases]
* = host={self.dir} port={self.port}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = {users}
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 200
server_reset_query =
logfile = {self.dir}/pgbouncer.log
pidfile = {self.dir}/pgbouncer.pid
""")
        if os.getuid() == 0:
            shutil.chown(ini, "postgres"), shutil.chown(users, "postgres")
        cmd = ["pgbouncer", "-d"] + (["-u", "postgres"] if os.getuid() == 0 else []) + [ini]
        subprocess.run(cmd, capture_output=True, check=True)
        self.pgbouncer_port = port
        return port

    def stop_pgbouncer(self):
        pidfile = os.path.join(self.dir, "pgbouncer.pid")
        if os.path.exists(pidfile):
            with open(pidfile, encoding="ascii") as f:
                os.kill(int(f.read().strip()), signal.SIGTERM)

    def start_standby(self):
        """A streaming replica of the cluster (pg_basebackup -R) on its own port and socket
        directory; returns its port."""
        sdir = self.dir + "-standby"
        os.makedirs(sdir)
        if os.getuid() == 0:
            shutil.chown(sdir, "postgres")
        os.chmod(sdir, 0o700)
        owner = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
        subprocess.run(owner + [BIN + "/pg_basebackup", "-h", self.dir, "-p", str(self.port),
                                "-U", "spp", "-D", sdir + "/data", "-R", "-X", "stream", "-c", "fast"],
                       capture_output=True, check=True)
        port = free_port()
        with open(sdir + "/data/postgresql.conf", "a", encoding="ascii") as f:
            f.write(f"port = {port}\nunix_socket_directories = '{sdir}'\nhot_standby = on\n")
        subprocess.run(owner + [BIN + "/pg_ctl", "-D", sdir + "/data", "-l", sdir + "/server.log",
                                "-w", "-t", "30", "start"], capture_output=True, check=True)
        self.standby_dir, self.standby_port = sdir, port
        return port

    def kill(self):
        """The database goes away at once (SIGQUIT: no shutdown checkpoint)."""
        subprocess.run([SCRIPT, "kill", self.dir], capture_output=True, check=True)

    def restart(self):
        subprocess.run([SCRIPT, "restart", self.dir], capture_output=True, check=True)

    def clean(self):
        sdir = getattr(self, "standby_dir", None)
        if sdir:
            owner = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
            subprocess.run(owner + [BIN + "/pg_ctl", "-D", sdir + "/data", "-m", "immediate",
                                    "stop"], capture_output=True)
            shutil.rmtree(sdir, ignore_errors=True)
        try:
            self.stop_pgbouncer()
        except (OSError, ValueError):
            pass
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
