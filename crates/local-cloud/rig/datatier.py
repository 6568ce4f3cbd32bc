"""The data tier, real: a PostgreSQL server for each RDS instance and a Redis server for each
ElastiCache replication group the local cloud creates, on loopback ports.

On AWS: an RDS PostgreSQL instance and an ElastiCache Redis replication group are servers the
API's function connects to (PostgreSQL as the master user with the managed secret's password,
or as an application user with an IAM token; Redis over TLS with the AUTH token).
In moto: both are records; nothing listens at their endpoints.
Here: when SHIPIT_RIG_DATA_TIER=1 (scripts/local-cloud --data-tier sets it), creating the
instance starts Debian's PostgreSQL (the master user's password is the managed secret's) and
creating the replication group starts Debian's redis-server (TLS only, its certificate signed
by the local cloud's own CA, which functions run by shipit trust, and the AUTH token the
template gives); their endpoints become 127.0.0.1 and the
server's port. PostgreSQL is TLS only, as RDS is with rds.force_ssl (the default from version
15), and has RDS's `rds_iam` role. Deleting the resource stops the server; so does stop_all()
(the local cloud's exit). What a real PostgreSQL cannot check is taken on trust: a member of
`rds_iam` is accepted with any password (on RDS, an IAM authentication token, which only AWS
can check), and stack/README.md lists it.
Without the variable nothing starts, and the endpoints stay moto's made-up names.
"""
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

ENABLED_VAR = "SHIPIT_RIG_DATA_TIER"
_servers = []
_lock = threading.Lock()


def enabled():
    return os.environ.get(ENABLED_VAR) == "1"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _log(directory):
    """Where a server writes its output (a pipe nobody reads would stall it once full)."""
    return open(os.path.join(directory, "server.log"), "ab")


def _tail(directory):
    try:
        with open(os.path.join(directory, "server.log"), "rb") as f:
            return f.read()[-2000:].decode(errors="replace")
    except OSError:
        return ""


class PortTaken(RuntimeError):
    """Another process took the port first: start again on another."""


OWNER_FILE = "shipit-owner"


def _alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def sweep_orphans():
    """Stops the servers, and removes the directories, that a local cloud killed without its
    exit (SIGKILL) left behind: each server's directory names the local cloud that owns it and
    the server's pid; an owner that is gone owns nothing."""
    base = tempfile.gettempdir()
    for name in os.listdir(base):
        if not name.startswith(("shipit-rds-", "shipit-cache-")):
            continue
        directory = os.path.join(base, name)
        try:
            with open(os.path.join(directory, OWNER_FILE)) as f:
                owner, server = (int(x) for x in f.read().split())
        except (OSError, ValueError):
            continue  # not ours to judge (still starting, or not made by this code)
        if _alive(owner):
            continue
        if _alive(server):
            try:
                os.kill(server, signal.SIGKILL)
            except OSError:
                pass
        shutil.rmtree(directory, ignore_errors=True)


def _start(launch, what, directory, ready, attempts=3):
    """Starts a server with `launch(port)` on a free port, again on another if one was taken;
    records who owns it (for sweep_orphans). A server that does not start takes `directory`
    with it."""
    try:
        return _start_in(launch, what, directory, ready, attempts)
    except RuntimeError:
        shutil.rmtree(directory, ignore_errors=True)
        raise


def _start_in(launch, what, directory, ready, attempts):
    for attempt in range(attempts):
        port = _free_port()
        with _log(directory) as log:
            process = launch(port, log)
        with open(os.path.join(directory, OWNER_FILE), "w") as f:
            f.write(f"{os.getpid()} {process.pid}")
        try:
            _wait_listening(port, process, what, directory=directory, ready=ready)
            return port, process
        except PortTaken:
            process.wait()
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def _wait_listening(port, process, what, deadline=30.0, directory=None, ready=None):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if process.poll() is not None:
            if "in use" in _tail(directory):
                raise PortTaken(f"{what} could not bind 127.0.0.1:{port}")
            raise RuntimeError(f"{what} exited with {process.returncode} before listening on "
                               f"{port}: {_tail(directory) if directory else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                pass
        except OSError:
            time.sleep(0.05)
            continue
        # Something listens: it is this server only once the server says it is ready (it
        # says so after its bind); another process may have taken the port first.
        if ready and ready in _tail(directory):
            return
        time.sleep(0.05)
    process.kill()
    process.wait()
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {deadline:.0f} s")


def _postgres_bin(name):
    found = shutil.which(name)
    if found:
        return found
    base = "/usr/lib/postgresql"
    for version in sorted(os.listdir(base) if os.path.isdir(base) else [], reverse=True):
        path = os.path.join(base, version, "bin", name)
        if os.path.exists(path):
            return path
    raise RuntimeError(f"no {name}: scripts/setup installs Debian's postgresql")


def _as_postgres_user():
    """PostgreSQL refuses to run as root: when root, run it as the `postgres` account (no
    supplementary groups). Returns (the account, the keyword arguments for subprocess)."""
    if os.geteuid() != 0:
        return None, {}
    entry = pwd.getpwnam("postgres")
    return entry, {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


class Server:
    def __init__(self, kind, port, process, directory):
        self.kind, self.port, self.process, self.directory = kind, port, process, directory

    def stop(self):
        if self.process.poll() is None:
            # SIGINT: PostgreSQL's fast shutdown (SIGTERM's smart one waits for every client);
            # Redis stops on either.
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)
        with _lock:
            if self in _servers:
                _servers.remove(self)


def _register(server):
    with _lock:
        _servers.append(server)
    return server


def start_postgres(master_user, master_password):
    """A fresh cluster on a free loopback port, TLS only (a certificate for 127.0.0.1 signed by
    the local cloud's RDS CA, which no system trust store holds, as RDS's certificates chain to
    RDS's own CAs): the master user with its password (SCRAM), and members of `rds_iam` trusted
    (the stand-in for IAM authentication)."""
    directory = tempfile.mkdtemp(prefix="shipit-rds-")
    data = os.path.join(directory, "data")
    account, as_postgres = _as_postgres_user()
    cert, key = _server_certificate(directory, RDS_CA)
    pwfile = os.path.join(directory, "pw")
    with open(pwfile, "w") as f:
        f.write(master_password)
    if account:
        for path in (directory, pwfile, cert, key):
            os.chown(path, account.pw_uid, account.pw_gid)
    env = dict(os.environ, LC_ALL="C.UTF-8")
    made = subprocess.run([_postgres_bin("initdb"), "-D", data, "-U", master_user,
                           "--pwfile", pwfile, "--auth-local", "scram-sha-256",
                           "--auth-host", "scram-sha-256", "-E", "UTF8", "--no-sync"],
                          capture_output=True, env=env, **as_postgres)
    if made.returncode != 0:
        shutil.rmtree(directory, ignore_errors=True)
        raise RuntimeError(f"initdb failed: {made.stderr.decode(errors='replace')[-2000:]}")
    # RDS's role for IAM authentication, made before any client can connect.
    made = subprocess.run([_postgres_bin("postgres"), "--single", "-D", data, "postgres"],
                          input=b"CREATE ROLE rds_iam;\n", capture_output=True, env=env,
                          **as_postgres)
    os.remove(pwfile)
    if made.returncode != 0:
        shutil.rmtree(directory, ignore_errors=True)
        raise RuntimeError(f"creating rds_iam failed: {made.stderr.decode(errors='replace')[-2000:]}")
    with open(os.path.join(data, "pg_hba.conf"), "w") as f:
        f.write(f"local all {master_user} scram-sha-256\n"
                f"hostssl all {master_user} 127.0.0.1/32 scram-sha-256\n"
                "hostssl all +rds_iam 127.0.0.1/32 trust\n")
    def launch(port, log):
        return subprocess.Popen(
            [_postgres_bin("postgres"), "-D", data, "-p", str(port),
             "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={directory}",
             "-c", "ssl=on", "-c", f"ssl_cert_file={cert}", "-c", f"ssl_key_file={key}",
             "-c", "fsync=off", "-c", "shared_buffers=16MB", "-c", "max_connections=40"],
            stdout=log, stderr=log, env=env, **as_postgres)
    port, process = _start(launch, "postgres", directory,
                           "database system is ready to accept connections")
    return _register(Server("postgres", port, process, directory))


# Two authorities, as on AWS: ElastiCache's certificates chain to a public root (the local
# cloud's "public" CA, which the local Lambda runtime adds to the function's trust store), RDS's
# to RDS's own CAs (the local cloud's RDS CA, which only the RDS bundle a function carries
# holds: rig/lambda_code.py puts it into the package's rds-ca-bundle.pem).
PUBLIC_CA, RDS_CA = "public", "rds"
_cas = {}


def ca(which=PUBLIC_CA):
    """One of the local cloud's certificate authorities (each made once). Returns (certificate
    path, key path)."""
    with _lock:
        if which not in _cas:
            directory = tempfile.mkdtemp(prefix=f"shipit-ca-{which}-")
            cert, key = os.path.join(directory, "ca.pem"), os.path.join(directory, "ca.key")
            name = "shipit local cloud CA" if which == PUBLIC_CA else "shipit local cloud RDS CA"
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                            "-days", "30", "-subj", f"/CN={name}",
                            "-addext", "basicConstraints=critical,CA:TRUE",
                            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                            "-keyout", key, "-out", cert], check=True, capture_output=True)
            _cas[which] = dict(directory=directory, cert=cert, key=key)
        return _cas[which]["cert"], _cas[which]["key"]


def _server_certificate(directory, which=PUBLIC_CA):
    """A certificate for 127.0.0.1 (and localhost) signed by one of the local cloud's CAs, with
    its key (mode 0600), in `directory`. Returns (certificate path, key path)."""
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    request, ext = os.path.join(directory, "cert.csr"), os.path.join(directory, "ext.cnf")
    ca_cert, ca_key = ca(which)
    subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
                    "-keyout", key, "-out", request], check=True, capture_output=True)
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    subprocess.run(["openssl", "x509", "-req", "-in", request, "-CA", ca_cert, "-CAkey", ca_key,
                    "-set_serial", str(secrets.randbits(63)), "-days", "30", "-extfile", ext, "-out", cert],
                   check=True, capture_output=True)
    os.chmod(key, 0o600)
    return cert, key


def trusted(which=PUBLIC_CA):
    """The PEM certificates of one of the local cloud's CAs (none until a server needed it):
    PUBLIC_CA is what a function's trust store holds, RDS_CA what its RDS bundle holds."""
    with _lock:
        if which not in _cas:
            return []
        with open(_cas[which]["cert"]) as f:
            return [f.read()]


def start_redis(auth_token):
    """redis-server on a free loopback port, TLS only (a certificate for 127.0.0.1 signed by
    the local cloud's CA), requiring the AUTH token."""
    directory = tempfile.mkdtemp(prefix="shipit-cache-")
    cert_chain, key = _server_certificate(directory, PUBLIC_CA)
    ca_cert, _ = ca(PUBLIC_CA)
    redis = shutil.which("redis-server")
    if not redis:
        raise RuntimeError("no redis-server: scripts/setup installs Debian's redis-server")

    def launch(port, log):
        return subprocess.Popen(
            [redis, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
             "--tls-cert-file", cert_chain, "--tls-key-file", key, "--tls-ca-cert-file", ca_cert,
             "--tls-auth-clients", "no", "--requirepass", auth_token, "--save", "",
             "--appendonly", "no", "--dir", directory],
            stdout=log, stderr=log)
    port, process = _start(launch, "redis-server", directory, "Ready to accept connections")
    server = _register(Server("redis", port, process, directory))
    server.ca = ca_cert
    return server


def stop_all():
    with _lock:
        servers = list(_servers)
    for s in servers:
        s.stop()
    with _lock:
        for made in _cas.values():
            shutil.rmtree(made["directory"], ignore_errors=True)
        _cas.clear()
