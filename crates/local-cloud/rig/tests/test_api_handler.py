"""stack/shipit.yaml's built-in API function (ApiFunction's Code.ZipFile, what the stack runs
until shipit deploys code of its own from [api]), run as Lambda would run it, in moto.

GET /health answers without a network call; /health/deep and /items need the Cognito sub claim;
an item is its owner's alone (someone else's is a 404, like a missing one); every answer carries
the CORS headers. The code is read from the template itself, so these tests follow its edits.
"""
import contextlib
import importlib.util
import itertools
import json
import os
import socket
import tempfile
import uuid
from pathlib import Path
from unittest import mock

import botocore.client
import botocore.endpoint
import yaml

from rig.tests.support import REGION, CloudTest

TEMPLATE = Path(__file__).resolve().parents[4] / "stack" / "shipit.yaml"
ZIPFILE_LIMIT = 4096  # CloudFormation's limit on Code.ZipFile (Node.js and Python)
ORIGIN = "https://d111.cloudfront.net"
TABLE, INDEX, BUCKET = "items", "owner-index", "app-data"
ALICE, BOB = "sub-alice", "sub-bob"
_modules = itertools.count(1)


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short forms (!Ref, !Sub, !GetAtt, !If, ...) read as their
    plain node: only Code.ZipFile's text matters here."""


def _short_form(loader, _suffix, node):
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)


_CfnLoader.add_multi_constructor("!", _short_form)


def handler_code():
    """The built-in example: Code is !If [HasApiCode, <the package shipit uploaded>, ZipFile]."""
    template = yaml.load(TEMPLATE.read_text(), Loader=_CfnLoader)
    condition, _packaged, builtin = template["Resources"]["ApiFunction"]["Properties"]["Code"]
    assert condition == "HasApiCode", condition
    return builtin["ZipFile"]


OTHER_ORIGIN = "https://www.example.com"  # the site's custom domain
ALLOWED = f"{OTHER_ORIGIN},{ORIGIN}"  # ALLOWED_ORIGINS as the template sets it


def event(method, path, sub=None, body=None, origin=ORIGIN):
    """An API Gateway REST proxy event from a page of `origin`; the claims only when an
    authorizer let it through."""
    context = {"authorizer": {"claims": {"sub": sub}}} if sub else {}
    headers = {"origin": origin} if origin else {}
    return {"httpMethod": method, "path": path, "body": body, "requestContext": context,
            "headers": headers}


def make_stores(test):
    """The items table (with the template's owner index) and the app-data bucket."""
    test.client("dynamodb").create_table(
        TableName=TABLE, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "owner", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[{
            "IndexName": INDEX, "KeySchema": [{"AttributeName": "owner", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"}}])
    test.client("s3").create_bucket(Bucket=BUCKET)


@contextlib.contextmanager
def offline():
    """Record (and refuse) any socket connection or AWS API call; yields the list of attempts."""
    attempts = []

    def refuse(name):
        def attempt(*args, **kwargs):
            attempts.append(name)
            raise AssertionError(f"network call: {name}")
        return attempt

    with contextlib.ExitStack() as stack:
        for target, name in ((socket, "create_connection"), (socket.socket, "connect"),
                             (botocore.endpoint.Endpoint, "_send"),
                             (botocore.client.BaseClient, "_make_api_call")):
            stack.enter_context(mock.patch.object(target, name, refuse(name)))
        yield attempts


class ApiHandler(CloudTest):
    def setUp(self):
        super().setUp()
        env = mock.patch.dict(os.environ, {
            "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "TABLE_NAME": TABLE, "OWNER_INDEX": INDEX, "APP_BUCKET": BUCKET,
            "DB_HOST": "", "DB_PORT": "", "REDIS_HOST": "", "REDIS_SECRET_ARN": "",
            "ALLOWED_ORIGINS": ALLOWED})
        env.start()
        self.addCleanup(env.stop)
        os.environ.pop("AWS_PROFILE", None)  # patch.dict puts it back
        self.ddb = self.client("dynamodb")
        make_stores(self)
        # Every AWS call the handler makes: (service, operation, params, client config).
        self.calls = []
        real = botocore.client.BaseClient._make_api_call

        def spy(client, operation, params):
            self.calls.append((client.meta.service_model.service_name, operation, params,
                               client.meta.config))
            return real(client, operation, params)

        patch = mock.patch.object(botocore.client.BaseClient, "_make_api_call", spy)
        patch.start()
        self.addCleanup(patch.stop)
        self.api = self.load()

    def load(self):
        """Import the template's code afresh, as Lambda's index.handler (a cold start)."""
        directory = tempfile.TemporaryDirectory()
        self.addCleanup(directory.cleanup)
        path = Path(directory.name) / "index.py"
        path.write_text(handler_code())
        spec = importlib.util.spec_from_file_location(f"shipit_api_{next(_modules)}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    def call(self, method, path, sub=None, body=None, api=None):
        """The handler's answer: (status, headers, body parsed as JSON or None); self.calls then
        holds the AWS calls this one request made."""
        self.calls.clear()
        answer = (api or self.api).handler(event(method, path, sub, body), None)
        text = answer.get("body") or ""
        return answer["statusCode"], answer.get("headers") or {}, json.loads(text) if text else None

    def operations(self):
        return [operation for _, operation, _, _ in self.calls]

    def stored(self, item_id):
        return self.ddb.get_item(TableName=TABLE, Key={"pk": {"S": item_id}}).get("Item")

    def secret(self, name):
        return self.client("secretsmanager").create_secret(Name=name, SecretString="x")["ARN"]

    def test_code_fits_in_zipfile(self):
        code = handler_code()
        self.assertLess(len(code), ZIPFILE_LIMIT)
        compile(code, "index.py", "exec")

    def test_health_is_public_and_makes_no_network_call(self):
        with offline() as attempts:
            api = self.load()  # a cold start makes none either
            for e in (event("GET", "/health"), {"httpMethod": "GET", "path": "/health"},
                      {"httpMethod": "GET", "path": "/health",
                       "requestContext": {"authorizer": None}}):
                answer = api.handler(e, None)
                self.assertEqual(answer["statusCode"], 200, answer)
                self.assertEqual(json.loads(answer["body"]), {"ok": True})
        self.assertEqual(attempts, [])

    def test_deep_health_needs_the_sub_claim(self):
        with offline() as attempts:
            status, _, _ = self.call("GET", "/health/deep")
        self.assertEqual(status, 401)
        self.assertEqual(attempts, [])

    def test_deep_health_reports_each_store(self):
        redis_secret = self.secret("redis-auth")
        os.environ["REDIS_SECRET_ARN"] = redis_secret
        os.environ["DB_SECRET_ARN"] = self.secret("db-master")  # the old variable: never read
        status, _, body = self.call("GET", "/health/deep", sub=ALICE)
        self.assertEqual(status, 200, body)
        self.assertEqual(body["stores"], {
            "dynamodb": "ok", "s3": "ok", "postgres": "not configured",
            "redis": "not configured", "redis_secret": "ok"})
        self.assertTrue(body["ok"])
        made = {op: params for _, op, params, _ in self.calls}
        self.assertEqual(set(made), {"DescribeTable", "ListObjectsV2", "GetSecretValue"})
        self.assertEqual(made["DescribeTable"]["TableName"], TABLE)
        listed = made["ListObjectsV2"]  # botocore adds EncodingType
        self.assertEqual((listed["Bucket"], listed["MaxKeys"]), (BUCKET, 1))
        self.assertEqual([p["SecretId"] for _, op, p, _ in self.calls if op == "GetSecretValue"],
                         [redis_secret])
        self.assertNotIn("db-master", json.dumps(body))
        for service, _, _, config in self.calls:
            self.assertEqual((config.connect_timeout, config.read_timeout), (2, 2), service)
            self.assertEqual(config.retries.get("total_max_attempts"), 2, service)  # one retry

    def test_deep_health_fails_when_a_store_does(self):
        with socket.socket() as listener:  # a database that answers, on DB_PORT
            listener.bind(("127.0.0.1", 0))
            listener.listen()
            os.environ.update(DB_HOST="127.0.0.1", DB_PORT=str(listener.getsockname()[1]),
                              REDIS_HOST="127.0.0.1", APP_BUCKET="no-such-bucket",
                              REDIS_SECRET_ARN=f"arn:aws:secretsmanager:{REGION}:123456789012:secret:none")
            status, _, body = self.call("GET", "/health/deep", sub=ALICE)
        self.assertEqual(status, 503, body)
        self.assertFalse(body["ok"])
        stores = body["stores"]
        self.assertEqual((stores["dynamodb"], stores["postgres"]), ("ok", "ok"))
        for store in ("s3", "redis", "redis_secret"):
            self.assertTrue(stores[store].startswith("error: "), stores)

    def test_cors_headers_on_every_answer(self):
        cases = [("GET", "/health", None, None, 200), ("GET", "/nowhere", ALICE, None, 404),
                 ("GET", "/items", None, None, 401), ("GET", "/health/deep", None, None, 401),
                 ("PUT", "/items", ALICE, None, 405), ("POST", "/health", None, None, 405),
                 ("PATCH", "/items/x", ALICE, None, 405), ("GET", "/items/x", ALICE, None, 404),
                 ("POST", "/items", ALICE, "[]", 400), ("POST", "/items", ALICE, "{}", 201)]
        for method, path, sub, body, expected in cases:
            with self.subTest(method=method, path=path, sub=sub):
                status, headers, _ = self.call(method, path, sub, body)
                self.assertEqual(status, expected)
                self.assertEqual(headers.get("Access-Control-Allow-Origin"), ORIGIN)
                self.assertEqual(headers.get("Vary"), "Origin")
                self.assertEqual(headers.get("Content-Type"), "application/json")
                self.assertEqual(headers.get("Cache-Control"), "no-store")
        os.environ["TABLE_NAME"] = "no-such-table"  # an unexpected failure: still CORS
        with mock.patch("traceback.print_exc"):
            status, headers, _ = self.call("GET", "/items", ALICE)
        self.assertEqual(status, 500)
        self.assertEqual(headers.get("Access-Control-Allow-Origin"), ORIGIN)
        # Each of the site's origins is answered as itself, whatever the header's case; any
        # other, or none, gets no Access-Control-Allow-Origin.
        for origin, headers_in, allowed in [
                (OTHER_ORIGIN, {"Origin": OTHER_ORIGIN}, OTHER_ORIGIN),
                ("evil", {"origin": "https://evil.example"}, None),
                ("prefix", {"origin": ORIGIN + ".evil.example"}, None),
                ("empty", {"origin": ""}, None), ("none", {}, None)]:
            with self.subTest(origin=origin):
                answer = self.api.handler(dict(event("GET", "/health"), headers=headers_in), None)
                self.assertEqual(answer["headers"].get("Access-Control-Allow-Origin"), allowed)
                self.assertEqual(answer["headers"].get("Vary"), "Origin")
        del os.environ["ALLOWED_ORIGINS"]
        status, headers, _ = self.call("GET", "/health")
        self.assertNotIn("Access-Control-Allow-Origin", headers)
        self.assertEqual(headers.get("Vary"), "Origin")

    def test_items_are_their_owners_alone(self):
        status, _, created = self.call("POST", "/items", ALICE,
                                       json.dumps({"title": "a", "id": "chosen", "owner": BOB}))
        self.assertEqual(status, 201, created)
        item_id = created["id"]
        self.assertEqual(str(uuid.UUID(item_id, version=4)), item_id)  # not the client's "chosen"
        self.assertEqual(created["title"], "a")
        self.assertNotEqual(created.get("owner"), BOB)
        self.assertEqual(self.stored(item_id)["owner"], {"S": ALICE})
        self.assertIsNone(self.stored("chosen"))

        status, _, listed = self.call("GET", "/items", BOB)
        self.assertEqual((status, listed), (200, []))
        self.assertNotIn("Scan", self.operations())
        missing = self.call("GET", f"/items/{uuid.uuid4()}", BOB)
        self.assertEqual(self.call("GET", f"/items/{item_id}", BOB), missing)  # same as missing
        self.assertEqual(missing[0], 404)
        self.assertEqual(self.call("DELETE", f"/items/{item_id}", BOB)[0], 404)
        self.assertIsNotNone(self.stored(item_id))

        status, _, listed = self.call("GET", "/items", ALICE)
        self.assertEqual((status, listed), (200, [created]))
        query = [p for _, op, p, _ in self.calls if op == "Query"]
        self.assertEqual(len(query), 1, self.operations())
        self.assertEqual((query[0]["IndexName"], query[0]["Limit"]), (INDEX, 50))
        status, _, got = self.call("GET", f"/items/{item_id}", ALICE)
        self.assertEqual((status, got), (200, created))
        self.assertEqual(self.call("DELETE", f"/items/{item_id}", ALICE)[0], 204)
        self.assertIsNone(self.stored(item_id))
        self.assertEqual(self.call("GET", f"/items/{item_id}", ALICE)[0], 404)
        self.assertEqual(self.call("DELETE", f"/items/{item_id}", ALICE)[0], 404)

    def test_body_must_be_a_json_object(self):
        for body in (None, "", "not json", "[1]", '"text"', "42", "null", "{"):
            with self.subTest(body=body):
                status, _, _ = self.call("POST", "/items", ALICE, body)
                self.assertEqual(status, 400)
                self.assertNotIn("PutItem", self.operations())
        self.assertEqual(self.ddb.scan(TableName=TABLE)["Count"], 0)
