"""rig/datatier.py: with the data tier on, an RDS PostgreSQL instance and an ElastiCache
replication group made by a stack are real servers on loopback, reachable the way the function
reaches them (the master secret's password, TLS with the AUTH token), and gone with the stack."""
import json
import os
import tempfile
import shutil
import socket
import ssl
import subprocess
import time

from rig import datatier
from rig.tests.support import CloudTest

TEMPLATE = """
Resources:
  Db:
    Type: AWS::RDS::DBInstance
    Properties:
      DBInstanceIdentifier: db1
      Engine: postgres
      DBInstanceClass: db.t4g.micro
      MasterUsername: shipit
      ManageMasterUserPassword: true
      AllocatedStorage: "20"
  Token:
    Type: AWS::SecretsManager::Secret
    Properties:
      GenerateSecretString: {PasswordLength: 40, ExcludePunctuation: true}
  Cache:
    Type: AWS::ElastiCache::ReplicationGroup
    Properties:
      ReplicationGroupDescription: cache
      Engine: redis
      CacheNodeType: cache.t4g.micro
      NumCacheClusters: 1
      TransitEncryptionEnabled: true
      AuthToken: !Sub "{{resolve:secretsmanager:${Token}:SecretString}}"
Outputs:
  DbHost: {Value: !GetAtt Db.Endpoint.Address}
  DbPort: {Value: !GetAtt Db.Endpoint.Port}
  DbSecret: {Value: !GetAtt Db.MasterUserSecret.SecretArn}
  RedisHost: {Value: !GetAtt Cache.PrimaryEndPoint.Address}
  RedisPort: {Value: !GetAtt Cache.PrimaryEndPoint.Port}
  Token: {Value: !Ref Token}
"""


def psql(port, user, password, sql, sslmode="verify-full", ca=datatier.RDS_CA):
    """psql checking the server's certificate against the RDS bundle, as a function must (the
    local cloud's RDS CA)."""
    directory = tempfile.mkdtemp()
    try:
        root = os.path.join(directory, "root.pem")
        with open(root, "w") as f:
            f.write("".join(datatier.trusted(ca)))
        return subprocess.run(
            ["psql", "-h", "127.0.0.1", "-p", str(port), "-U", user, "-d", "postgres", "-Atc", sql],
            capture_output=True, text=True, timeout=20,
            env=dict(os.environ, PGPASSWORD=password, PGCONNECT_TIMEOUT="5",
                     PGSSLMODE=sslmode, PGSSLROOTCERT=root))
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def redis(port, *commands):
    """Sends the commands over TLS, checking the server's certificate as a function does: for
    127.0.0.1, chained to the CA the local cloud gives functions to trust."""
    ctx = ssl.create_default_context(cadata="".join(datatier.trusted()))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            s.sendall("".join(c + "\r\n" for c in commands).encode())
            out, deadline = b"", time.monotonic() + 5
            while out.count(b"\r\n") < len(commands) and time.monotonic() < deadline:
                out += s.recv(4096)
            return out.decode().split("\r\n")[:len(commands)]


class DataTier(CloudTest):
    def setUp(self):
        os.environ[datatier.ENABLED_VAR] = "1"
        self.addCleanup(os.environ.pop, datatier.ENABLED_VAR, None)
        self.addCleanup(datatier.stop_all)
        super().setUp()

    def test_the_stack_gets_real_servers_and_takes_them_with_it(self):
        self.deploy("s", TEMPLATE)
        out = self.outputs("s")
        self.assertEqual((out["DbHost"], out["RedisHost"]), ("127.0.0.1", "127.0.0.1"))
        secret = json.loads(self.client("secretsmanager").get_secret_value(
            SecretId=out["DbSecret"])["SecretString"])
        self.assertEqual(secret["username"], "shipit")
        self.assertNotEqual(secret["password"], "P@55w0rd!")
        db_port = int(out["DbPort"])

        ok = psql(db_port, "shipit", secret["password"], "select current_user")
        self.assertEqual((ok.returncode, ok.stdout.strip()), (0, "shipit"), ok.stderr)
        wrong = psql(db_port, "shipit", "not-the-password", "select 1")
        self.assertNotEqual(wrong.returncode, 0)
        self.assertIn("password authentication failed", wrong.stderr)
        # Its certificate chains to the RDS CA, not to the roots a function's store holds.
        public = psql(db_port, "shipit", secret["password"], "select 1", ca=datatier.PUBLIC_CA)
        self.assertNotEqual(public.returncode, 0)
        self.assertIn("certificate verify failed", public.stderr)
        # TLS only, as RDS with rds.force_ssl.
        plain = psql(db_port, "shipit", secret["password"], "select 1", sslmode="disable")
        self.assertNotEqual(plain.returncode, 0)
        self.assertIn("no encryption", plain.stderr)
        # A member of rds_iam (IAM authentication on AWS) is taken on trust; no one else is.
        made = psql(db_port, "shipit", secret["password"],
                    "create user shipit_app; create user outsider; grant rds_iam to shipit_app")
        self.assertEqual(made.returncode, 0, made.stderr)
        app = psql(db_port, "shipit_app", "an-iam-token", "select current_user")
        self.assertEqual(app.stdout.strip(), "shipit_app", app.stderr)
        outsider = psql(db_port, "outsider", "an-iam-token", "select 1")
        self.assertNotEqual(outsider.returncode, 0)
        self.assertIn("no pg_hba.conf entry", outsider.stderr)

        token = self.client("secretsmanager").get_secret_value(
            SecretId=out["Token"])["SecretString"]
        redis_port = int(out["RedisPort"])
        self.assertTrue(redis(redis_port, "PING")[0].startswith("-NOAUTH"))
        self.assertTrue(redis(redis_port, "AUTH wrong")[0].startswith("-WRONGPASS"))
        self.assertEqual(redis(redis_port, f"AUTH {token}", "PING"), ["+OK", "+PONG"])
        # TLS only: a plain-text command gets no Redis answer.
        with socket.create_connection(("127.0.0.1", redis_port), timeout=5) as raw:
            raw.sendall(b"PING\r\n")
            try:
                answer = raw.recv(100)
            except OSError:
                answer = b""
        self.assertFalse(answer.startswith((b"+", b"-")), answer)

        self.cfn.delete_stack(StackName="s")
        for port in (db_port, redis_port):
            with self.assertRaises(OSError, msg=f"{port} still listens"):
                socket.create_connection(("127.0.0.1", port), timeout=2).close()

    def test_off_by_default(self):
        os.environ.pop(datatier.ENABLED_VAR)
        self.deploy("s", TEMPLATE)
        out = self.outputs("s")
        self.assertTrue(out["DbHost"].endswith(".rds.amazonaws.com"), out)
        self.assertEqual(out["DbPort"], "5432")
        self.assertEqual(datatier._servers, [])
        self.assertEqual(datatier.trusted(), [])
        self.assertEqual(datatier.trusted(datatier.RDS_CA), [])


class TheFunctionOnTheDataTier(CloudTest):
    """The template's own function code, reaching the real servers as on AWS: every store
    answers, and a stopped PostgreSQL turns the deep health check red, naming it."""

    def setUp(self):
        os.environ[datatier.ENABLED_VAR] = "1"
        self.addCleanup(os.environ.pop, datatier.ENABLED_VAR, None)
        self.addCleanup(datatier.stop_all)
        super().setUp()

    def test_a_stopped_database_is_named_by_the_deep_health_check(self):
        import importlib.util
        import tempfile
        from unittest import mock

        from rig.tests import test_api_handler as api

        self.deploy("s", TEMPLATE)
        out = self.outputs("s")
        directory = tempfile.TemporaryDirectory()
        self.addCleanup(directory.cleanup)
        bundle = os.path.join(directory.name, "ca.pem")
        with open(bundle, "w") as f:
            f.write("".join(datatier.trusted()))
        code = os.path.join(directory.name, "index.py")
        with open(code, "w") as f:
            f.write(api.handler_code())
        env = mock.patch.dict(os.environ, {
            "AWS_DEFAULT_REGION": "us-east-1", "TABLE_NAME": "", "APP_BUCKET": "",
            "DB_HOST": out["DbHost"], "DB_PORT": out["DbPort"],
            "REDIS_HOST": out["RedisHost"], "REDIS_PORT": out["RedisPort"],
            "REDIS_SECRET_ARN": out["Token"], "ALLOWED_ORIGINS": "", "SSL_CERT_FILE": bundle})
        env.start()
        self.addCleanup(env.stop)
        spec = importlib.util.spec_from_file_location("shipit_api_datatier", code)
        handler = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(handler)

        def deep():
            answer = handler.handler(api.event("GET", "/health/deep", sub="u1"), None)
            return answer["statusCode"], json.loads(answer["body"])["stores"]

        status, stores = deep()
        self.assertEqual(status, 200, stores)
        self.assertEqual({k: stores[k] for k in ("postgres", "redis", "redis_secret")},
                         {"postgres": "ok", "redis": "ok", "redis_secret": "ok"})
        postgres = next(s for s in datatier._servers if s.kind == "postgres")
        postgres.stop()
        status, stores = deep()
        self.assertEqual(status, 503, stores)
        self.assertTrue(stores["postgres"].startswith("error: "), stores)
        self.assertEqual(stores["redis"], "ok")


class APortTakenFirst(CloudTest):
    def test_a_server_whose_port_was_taken_starts_on_another(self):
        from unittest import mock
        self.addCleanup(datatier.stop_all)
        taken = socket.socket()
        self.addCleanup(taken.close)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ports = iter([port])
        real = datatier._free_port
        with mock.patch.object(datatier, "_free_port", lambda: next(ports, None) or real()):
            server = datatier.start_redis("token")
        self.assertNotEqual(server.port, port)
        self.assertEqual(redis(server.port, "AUTH token", "PING"), ["+OK", "+PONG"])


class Orphans(CloudTest):
    def test_servers_a_killed_local_cloud_left_are_stopped_and_removed(self):
        import tempfile
        self.addCleanup(datatier.stop_all)
        server = datatier.start_redis("token")
        directory, process = server.directory, server.process
        # As if a local cloud that is gone had started it.
        gone = subprocess.Popen(["true"])
        gone.wait()
        with open(os.path.join(directory, datatier.OWNER_FILE), "w") as f:
            f.write(f"{gone.pid} {process.pid}")
        mine = tempfile.mkdtemp(prefix="shipit-cache-")  # alive owner: left alone
        self.addCleanup(shutil.rmtree, mine, True)
        with open(os.path.join(mine, datatier.OWNER_FILE), "w") as f:
            f.write(f"{os.getpid()} {os.getpid()}")
        datatier.sweep_orphans()
        process.wait(10)
        self.assertFalse(os.path.exists(directory))
        self.assertTrue(os.path.exists(mine))
