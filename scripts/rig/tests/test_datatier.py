"""rig/datatier.py: with the data tier on, an RDS PostgreSQL instance and an ElastiCache
replication group made by a stack are real servers on loopback, reachable the way the function
reaches them (the master secret's password, TLS with the AUTH token), and gone with the stack."""
import json
import os
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


def psql(port, user, password, sql):
    return subprocess.run(
        ["psql", "-h", "127.0.0.1", "-p", str(port), "-U", user, "-d", "postgres", "-Atc", sql],
        capture_output=True, text=True, timeout=20,
        env=dict(os.environ, PGPASSWORD=password, PGCONNECT_TIMEOUT="5"))


def redis(port, *commands):
    """Sends the commands over TLS (the server's certificate not checked: it is self-signed)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw) as s:
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
        # The application user (IAM authentication on AWS) is taken on trust.
        made = psql(db_port, "shipit", secret["password"], "create user shipit_app")
        self.assertEqual(made.returncode, 0, made.stderr)
        app = psql(db_port, "shipit_app", "an-iam-token", "select current_user")
        self.assertEqual(app.stdout.strip(), "shipit_app", app.stderr)

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
