"""Throw-away TLS for the backends: certificates made with the openssl command line, a redis-server
that listens only with TLS, and a PostgreSQL cluster that accepts TCP only with TLS, each on a free
loopback port, run as child processes of the test and stopped by PID.

    pki = Pki(directory)        # pki.ca, pki.other_ca; pki.cert("localhost"), pki.key("otherhost")
    redis = TlsRedis(directory, pki, password="...").start()     # redis.url(), redis.cli("INFO")
    pg = TlsPostgres(pki, password="...").start()                # pg.createdb(), pg.url(db), pg.sql()
    ...
    redis.stop(); pg.stop()

PostgreSQL refuses to run as root: as root it runs as the unprivileged `postgres` account (Debian's
postgresql package creates it), the way scripts/services.sh does; Redis runs as the current user."""
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid

from ports import free_port

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"
PG_BIN = (sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
          or [""])[-1]

# What each server certificate of Pki names (subjectAltName). All are issued by Pki.ca.
LEAVES = {
    "localhost": "DNS:localhost,IP:127.0.0.1,IP:::1",
    "otherhost": "DNS:otherhost",  # for the host-name checks: names neither localhost nor 127.0.0.1
}


def _openssl(*args):
    r = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"openssl {' '.join(args)}: {r.stderr}"


class Pki:
    """A CA, one server certificate per entry of LEAVES issued by it, and a second, unrelated CA
    (that issued nothing the servers use); P-256 keys, valid two days, files under `directory`."""

    def __init__(self, directory):
        self.dir = str(directory)
        os.makedirs(self.dir, exist_ok=True)
        tag = uuid.uuid4().hex[:8]  # two runs never make two CAs of one name
        self.ca, self.ca_key = self._ca("ca", f"Gatehouse test CA {tag}")
        self.other_ca, _ = self._ca("other-ca", f"Gatehouse unrelated CA {tag}")
        for name, san in LEAVES.items():
            self._leaf(name, san)

    def cert(self, name):
        return os.path.join(self.dir, f"{name}.pem")

    def key(self, name):
        return os.path.join(self.dir, f"{name}.key")

    def _ca(self, name, cn):
        key, pem = os.path.join(self.dir, f"{name}.key"), os.path.join(self.dir, f"{name}.pem")
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-days", "2", "-subj", f"/CN={cn}",
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                 "-keyout", key, "-out", pem)
        return pem, key

    def _leaf(self, name, san):
        key, csr, ext = self.key(name), os.path.join(self.dir, f"{name}.csr"), os.path.join(self.dir, f"{name}.ext")
        # The common name is the first name of the SAN: a client that wrongly fell back to the CN
        # would still see the same name.
        cn = san.split(",")[0].split(":", 1)[1]
        _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-subj", f"/CN={cn}", "-keyout", key, "-out", csr)
        with open(ext, "w") as f:
            f.write(f"subjectAltName={san}\n"
                    "basicConstraints=critical,CA:FALSE\n"
                    "keyUsage=critical,digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage=serverAuth\n"
                    "subjectKeyIdentifier=hash\n"
                    "authorityKeyIdentifier=keyid,issuer\n")
        _openssl("x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", self.ca_key, "-CAcreateserial",
                 "-days", "2", "-extfile", ext, "-out", self.cert(name))


class TlsRedis:
    """redis-server with TLS only (`--port 0`) on 127.0.0.1 (or `bind`), presenting Pki's
    certificate `cert`; clients are not asked for certificates (`--tls-auth-clients no`), as managed
    Redis services do. Can be stopped and started again on the same port."""

    def __init__(self, directory, pki, cert="localhost", password=None, protocols=None, port=None,
                 bind="127.0.0.1"):
        self.pki = pki
        self.bind = bind
        self.cert = cert
        self.password = password
        self.protocols = protocols  # e.g. "TLSv1.2": only that version
        self.port = port or free_port()
        self.dir = os.path.join(str(directory), f"redis-{self.port}")
        os.makedirs(self.dir, exist_ok=True)
        self.log = os.path.join(self.dir, "redis.log")
        self.proc = None

    def url(self, host="localhost", scheme="rediss", password=True, db=None):
        auth = f":{self.password}@" if password and self.password else ""
        return f"{scheme}://{auth}{host}:{self.port}" + (f"/{db}" if db is not None else "")

    def start(self, timeout=20):
        args = [REDIS_SERVER, "--bind", self.bind, "--port", "0", "--tls-port", str(self.port),
                "--tls-cert-file", self.pki.cert(self.cert), "--tls-key-file", self.pki.key(self.cert),
                "--tls-ca-cert-file", self.pki.ca, "--tls-auth-clients", "no",
                "--save", "", "--appendonly", "no", "--dir", self.dir, "--logfile", self.log,
                "--loglevel", "verbose"]
        if self.protocols:
            args += ["--tls-protocols", self.protocols]
        if self.password:
            args += ["--requirepass", self.password]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + timeout
        while self.cli("PING").stdout.strip() != "PONG":
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                raise RuntimeError(f"TLS redis-server did not start: {self.log_text()[-2000:]}")
            time.sleep(0.05)
        return self

    def cli(self, *args, db=None):
        """redis-cli over TLS (verifying the chain against Pki.ca), authenticated when the server
        has a password; the CompletedProcess."""
        env = dict(os.environ)
        env.pop("REDISCLI_AUTH", None)
        if self.password:
            env["REDISCLI_AUTH"] = self.password  # not on the command line
        cmd = [REDIS_CLI, "--tls", "--cacert", self.pki.ca, "-h", self.bind, "-p", str(self.port)]
        if db is not None:
            cmd += ["-n", str(db)]
        return subprocess.run(cmd + list(args), env=env, capture_output=True, text=True, timeout=30)

    def command_calls(self):
        """Calls per command name so far (INFO commandstats), e.g. {"eval": 3, "auth": 5}. This
        query is itself one AUTH (with a password) and one INFO."""
        out = self.cli("INFO", "commandstats").stdout
        calls = {}
        for line in out.splitlines():
            if line.startswith("cmdstat_"):
                name, stats = line[len("cmdstat_"):].split(":", 1)
                fields = dict(kv.split("=", 1) for kv in stats.strip().split(","))
                calls[name] = int(fields["calls"])
        return calls

    def subscribers(self, channel="gatehouse:events"):
        out = self.cli("PUBSUB", "NUMSUB", channel).stdout.split()
        return int(out[1]) if len(out) == 2 else None

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)


def _as_pg():
    """Popen arguments that run a child as the unprivileged `postgres` account when we are root."""
    if os.getuid() != 0:
        return {}
    return {"user": "postgres", "group": "postgres", "extra_groups": []}


def _scratch():
    """/dev/shm when it is a roomy memory file system, else the temporary directory: deleting a
    used cluster from a disk mounted with `discard` can take ten seconds."""
    try:
        st = os.statvfs("/dev/shm")
        if st.f_bavail * st.f_frsize >= 1 << 30 and os.access("/dev/shm", os.W_OK):
            return "/dev/shm"
    except OSError:
        pass
    return None


class TlsPostgres:
    """A PostgreSQL cluster of its own on 127.0.0.1 with `ssl = on`, presenting Pki's certificate
    `cert`; pg_hba.conf lets TCP in only with TLS (`hostssl`, SCRAM with `password`) and the Unix
    socket (in a private directory) by trust, for the test's own psql. The superuser is
    `gatehouse`. Data lives in a directory of its own (see _scratch) that the postgres account
    owns (pytest's own temporary directories are closed to it)."""

    def __init__(self, pki, cert="localhost", password="pg-password"):
        self.pki = pki
        self.cert = cert
        self.password = password
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="gatehouse-tls-pg.", dir=_scratch())
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "server.log")
        self.proc = None

    def start(self, timeout=60):
        if not PG_BIN:
            raise RuntimeError("no PostgreSQL under /usr/lib/postgresql")
        if os.getuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        pwfile = os.path.join(self.dir, "pwfile")
        self._write(pwfile, self.password + "\n", 0o600)
        r = subprocess.run([f"{PG_BIN}/initdb", "-D", self.data, "-U", "gatehouse", "--pwfile", pwfile,
                            "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8",
                            "--locale=C.UTF-8", "--no-sync", "--wal-segsize=1"],
                           cwd=self.dir, capture_output=True, text=True, timeout=120, **_as_pg())
        assert r.returncode == 0, f"initdb: {r.stdout}{r.stderr}"
        os.unlink(pwfile)
        # The key is the postgres account's, mode 0600: PostgreSQL refuses a key others can read.
        with open(self.pki.cert(self.cert)) as f:
            self._write(os.path.join(self.data, "server.crt"), f.read(), 0o644)
        with open(self.pki.key(self.cert)) as f:
            self._write(os.path.join(self.data, "server.key"), f.read(), 0o600)
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write(f"""
listen_addresses = '127.0.0.1'
port = {self.port}
unix_socket_directories = '{self.dir}'
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
ssl_min_protocol_version = 'TLSv1.2'
fsync = off
full_page_writes = off
wal_level = minimal
max_wal_senders = 0
min_wal_size = 4MB
max_wal_size = 64MB
max_connections = 100
""")
        # No `host` line: a TCP connection without TLS matches nothing and is refused.
        self._write(os.path.join(self.data, "pg_hba.conf"),
                    "local   all all                  trust\n"
                    "hostssl all all 127.0.0.1/32     scram-sha-256\n", 0o600)
        self._log = open(self.log, "ab")
        self.proc = subprocess.Popen([f"{PG_BIN}/postgres", "-D", self.data], cwd=self.dir,
                                     stdout=self._log, stderr=self._log, **_as_pg())
        deadline = time.time() + timeout
        while subprocess.run([f"{PG_BIN}/pg_isready", "-q", "-h", self.dir, "-p", str(self.port)],
                             capture_output=True).returncode != 0:
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop(remove=False)
                raise RuntimeError(f"PostgreSQL did not start: {self.log_text()[-3000:]}")
            time.sleep(0.1)
        return self

    def _write(self, path, text, mode):
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        if os.getuid() == 0:
            shutil.chown(path, "postgres", "postgres")

    def url(self, db, sslmode="verify-full", sslrootcert=None, host="localhost", password=None):
        """A libpq URI over TCP; sslrootcert is left out when "" and is Pki.ca when None."""
        query = f"sslmode={sslmode}"
        root = self.pki.ca if sslrootcert is None else sslrootcert
        if root:
            query += f"&sslrootcert={root}"
        return f"postgresql://gatehouse:{password or self.password}@{host}:{self.port}/{db}?{query}"

    def sql(self, query, db="postgres"):
        """One statement through the Unix socket; its rows as psql's unaligned text."""
        r = subprocess.run([f"{PG_BIN}/psql", "-h", self.dir, "-p", str(self.port), "-U", "gatehouse",
                            "-d", db, "-v", "ON_ERROR_STOP=1", "-tAc", query],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, f"psql: {r.stderr}"
        return r.stdout.strip()

    def createdb(self):
        name = "gh_tls_" + uuid.uuid4().hex[:12]
        self.sql(f"CREATE DATABASE {name} STRATEGY FILE_COPY")  # copies files, logs no pages
        return name

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self, remove=True):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # fast shutdown
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self._log.close()
        if remove:
            shutil.rmtree(self.dir, ignore_errors=True)
