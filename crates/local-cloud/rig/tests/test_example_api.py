"""site-example/api (the example API `shipit deploy` ships) run as Lambda runs it: its vendored
drivers, boto3 against the local cloud, and the data tier's real PostgreSQL and Redis.

The deep health check really uses each store (a query as the IAM application user over TLS, a
PING over TLS with the AUTH token) and names the one that fails; the item list is read through
Redis and dropped from it on every write; an item is its owner's alone.
"""
import hashlib
import importlib.util
import itertools
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from unittest import mock

from rig import datatier
from rig.tests.support import REGION, CloudTest
from rig.tests.test_api_handler import (ALICE, ALLOWED, BOB, BUCKET, INDEX, ORIGIN, TABLE, event,
                                        make_stores, offline)

ROOT = Path(__file__).resolve().parents[4]
API = ROOT / "site-example" / "api"
_modules = itertools.count(1)



def vendored():
    """site-example/api's requirements, installed for Lambda's platform as `shipit deploy`
    vendors them (once per requirements file, under target/tmp)."""
    requirements = (API / "requirements.txt").read_bytes()
    target = ROOT / "target" / "tmp" / f"example-api-{hashlib.sha256(requirements).hexdigest()[:16]}"
    if not (target / ".done").exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "--no-warn-conflicts", "--no-compile", "--timeout", "20", "--target", str(target),
             "--platform", "manylinux2014_x86_64", "--implementation", "cp",
             "--python-version", "3.12", "--only-binary=:all:", "-r", str(API / "requirements.txt")],
            check=True, timeout=300)
        (target / ".done").write_text("")
    return str(target)


class ExampleApi(CloudTest):
    def setUp(self):
        os.environ[datatier.ENABLED_VAR] = "1"
        self.addCleanup(os.environ.pop, datatier.ENABLED_VAR, None)
        self.addCleanup(datatier.stop_all)
        super().setUp()
        path = mock.patch.object(sys, "path", [vendored(), *sys.path])
        path.start()
        self.addCleanup(path.stop)
        # The data tier's servers, as test_datatier makes them; the table and bucket directly.
        from rig.tests.test_datatier import TEMPLATE
        self.deploy("s", TEMPLATE)
        out = self.outputs("s")
        make_stores(self)
        master = json.loads(self.client("secretsmanager").get_secret_value(
            SecretId=out["DbSecret"])["SecretString"])
        # The one-time step the README gives for AWS: the application user, an IAM user.
        from rig.tests.test_datatier import psql
        made = psql(int(out["DbPort"]), master["username"], master["password"],
                    "create user shipit_app; grant rds_iam to shipit_app")
        self.assertEqual(made.returncode, 0, made.stderr)
        directory = tempfile.TemporaryDirectory()
        self.addCleanup(directory.cleanup)
        # The function's trust store holds the public roots (here the local cloud's public
        # CA, which signs Redis); RDS's CA only in the bundle the package carries.
        bundle = os.path.join(directory.name, "ca.pem")
        with open(bundle, "w") as f:
            f.write("".join(datatier.trusted(datatier.PUBLIC_CA)))
        self.task = directory.name
        env = mock.patch.dict(os.environ, {
            "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "TABLE_NAME": TABLE, "OWNER_INDEX": INDEX, "APP_BUCKET": BUCKET,
            "DB_HOST": out["DbHost"], "DB_PORT": out["DbPort"], "DB_USER": "shipit_app",
            "REDIS_HOST": out["RedisHost"], "REDIS_PORT": out["RedisPort"],
            "REDIS_SECRET_ARN": out["Token"], "ALLOWED_ORIGINS": ALLOWED,
            "SSL_CERT_FILE": bundle})
        env.start()
        self.addCleanup(env.stop)
        os.environ.pop("AWS_PROFILE", None)
        self.api = self.load()

    def load(self, rds_bundle=None):
        """Import the handler afresh (a cold start), from a task root as the local Lambda
        runtime lays it out: the package's files, and its rds-ca-bundle.pem holding the local
        RDS CA (`rds_bundle`: other PEM text, or "" for no bundle at all)."""
        root = Path(self.task) / f"task-{next(_modules)}"
        root.mkdir()
        (root / "handler.py").write_bytes((API / "handler.py").read_bytes())
        if rds_bundle is None:
            rds_bundle = "".join(datatier.trusted(datatier.RDS_CA))
        if rds_bundle:
            (root / "rds-ca-bundle.pem").write_text(rds_bundle)
        spec = importlib.util.spec_from_file_location(f"example_api_{next(_modules)}",
                                                      root / "handler.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    def call(self, method, path, sub=None, body=None):
        answer = self.api.handler(event(method, path, sub, body), None)
        text = answer.get("body") or ""
        return answer["statusCode"], answer.get("headers") or {}, json.loads(text) if text else None

    def test_health_is_public_and_makes_no_network_call(self):
        with offline() as attempts:
            api = self.load()
            answer = api.handler(event("GET", "/health"), None)
        self.assertEqual((answer["statusCode"], json.loads(answer["body"])), (200, {"ok": True}))
        self.assertEqual(attempts, [])

    def test_the_database_is_verified_against_the_rds_bundle_alone(self):
        # As on AWS: RDS's certificate chains to RDS's CA, which the system store lacks. A
        # handler that trusted the system store would fail here; one without the bundle does.
        for bundle, error in [("", "error: FileNotFoundError"),
                              ("".join(datatier.trusted(datatier.PUBLIC_CA)), "error: ")]:
            self.api = self.load(rds_bundle=bundle)
            status, _, body = self.call("GET", "/health/deep", sub=ALICE)
            self.assertEqual(status, 503, body)
            self.assertTrue(body["stores"]["postgres"].startswith(error), body)
            self.assertEqual(body["stores"]["redis"], "ok", body)
        self.api = self.load()
        status, _, body = self.call("GET", "/health/deep", sub=ALICE)
        self.assertEqual((status, body["stores"]["postgres"]), (200, "ok"), body)

    def test_every_store_is_used_and_a_stopped_one_is_named(self):
        status, headers, body = self.call("GET", "/health/deep", sub=ALICE)
        self.assertEqual(status, 200, body)
        self.assertEqual(body["stores"], {"dynamodb": "ok", "s3": "ok", "postgres": "ok",
                                          "redis": "ok"})
        self.assertEqual(headers["Access-Control-Allow-Origin"], ORIGIN)
        # A user that is not an IAM user is refused as on RDS: the query really signs in.
        with mock.patch.dict(os.environ, {"DB_USER": "outsider"}):
            status, _, body = self.call("GET", "/health/deep", sub=ALICE)
        self.assertEqual(status, 503)
        self.assertTrue(body["stores"]["postgres"].startswith("error: "), body)
        self.assertNotIn("outsider", json.dumps(body), "details stay in the log")
        next(s for s in datatier._servers if s.kind == "postgres").stop()
        status, _, body = self.call("GET", "/health/deep", sub=ALICE)
        self.assertEqual(status, 503, body)
        self.assertFalse(body["ok"])
        self.assertTrue(body["stores"]["postgres"].startswith("error: "), body)
        self.assertEqual(body["stores"]["redis"], "ok")

    def test_a_wrong_redis_token_is_reported_not_served(self):
        token = self.client("secretsmanager").get_secret_value(
            SecretId=os.environ["REDIS_SECRET_ARN"])["SecretString"]
        self.client("secretsmanager").put_secret_value(
            SecretId=os.environ["REDIS_SECRET_ARN"], SecretString="not-the-token")
        status, _, body = self.call("GET", "/health/deep", sub=ALICE)
        self.assertEqual(status, 503, body)
        self.assertTrue(body["stores"]["redis"].startswith("error: "), body)
        # The kept client was dropped: the token put back is read again.
        self.client("secretsmanager").put_secret_value(
            SecretId=os.environ["REDIS_SECRET_ARN"], SecretString=token)
        status, _, body = self.call("GET", "/health/deep", sub=ALICE)
        self.assertEqual((status, body["stores"]["redis"]), (200, "ok"), body)
        self.client("secretsmanager").put_secret_value(
            SecretId=os.environ["REDIS_SECRET_ARN"], SecretString="not-the-token")
        self.api.redis_client.cache_clear()
        # Items still work: the cache is an optimisation, DynamoDB the record.
        self.assertEqual(self.call("POST", "/items", ALICE, '{"n": 1}')[0], 201)
        status, headers, listed = self.call("GET", "/items", ALICE)
        self.assertEqual((status, headers["X-Cache"], len(listed)), (200, "off", 1))

    def test_the_list_is_read_through_redis_and_dropped_on_writes(self):
        status, headers, listed = self.call("GET", "/items", ALICE)
        self.assertEqual((status, headers["X-Cache"], listed), (200, "miss", []))
        self.assertEqual(self.call("GET", "/items", ALICE)[1]["X-Cache"], "hit")
        status, _, made = self.call("POST", "/items", ALICE, '{"name": "a", "owner": "mallory"}')
        self.assertEqual(status, 201)
        self.assertNotIn("owner", made)
        status, headers, listed = self.call("GET", "/items", ALICE)
        self.assertEqual((headers["X-Cache"], listed), ("miss", [made]))
        status, headers, listed = self.call("GET", "/items", ALICE)
        self.assertEqual((headers["X-Cache"], listed), ("hit", [made]))
        # Someone else's list is theirs: cached apart, and the item is a 404 to them.
        status, headers, listed = self.call("GET", "/items", BOB)
        self.assertEqual((headers["X-Cache"], listed), ("miss", []))
        self.assertEqual(self.call("GET", f"/items/{made['id']}", BOB)[0], 404)
        self.assertEqual(self.call("DELETE", f"/items/{made['id']}", BOB)[0], 404)
        self.assertEqual(self.call("DELETE", f"/items/{made['id']}", ALICE)[0], 204)
        status, headers, listed = self.call("GET", "/items", ALICE)
        self.assertEqual((headers["X-Cache"], listed), ("miss", []))

    def test_each_of_the_sites_origins_is_allowed_and_no_other(self):
        for origin in ALLOWED.split(","):
            answer = self.api.handler(event("GET", "/health", origin=origin), None)
            self.assertEqual(answer["headers"]["Access-Control-Allow-Origin"], origin)
        for origin in ("https://evil.example", None):
            answer = self.api.handler(event("GET", "/health", origin=origin), None)
            self.assertNotIn("Access-Control-Allow-Origin", answer["headers"])
            self.assertEqual(answer["headers"]["Vary"], "Origin")

    def test_no_sub_no_data(self):
        with offline() as attempts:
            for method, path in (("GET", "/health/deep"), ("GET", "/items"),
                                 ("POST", "/items"), ("DELETE", "/items/x")):
                status, headers, _ = self.call(method, path)
                self.assertEqual(status, 401, path)
                self.assertEqual(headers["Access-Control-Allow-Origin"], ORIGIN)
        self.assertEqual(attempts, [])
