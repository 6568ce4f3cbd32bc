"""site-example's API, as `shipit deploy` ships it ([api] source = "site-example/api"), and as
the container backend runs it (site-example/service/server.py serves it over HTTP).

GET /health       liveness for monitors and `shipit verify`: no network call, no data store.
GET /health/deep  each store really used (signed-in callers only): a query on PostgreSQL as the
                  application user (IAM token over TLS), PING over TLS on Redis with the stack's
                  AUTH token, DescribeTable on DynamoDB, a one-key listing of the app-data bucket,
                  and, in a container, a read of the stack's parameters (SSM, PARAMETER_PATH).
/items            a signed-in user's items (Cognito `sub`), kept in DynamoDB; the list is read
                  through Redis (60 s, dropped on every write), `X-Cache` tells hit or miss.

Every answer is JSON with the CORS headers, a crash included. Clients are made on first use and
kept while the environment is warm; every network call has a 2 s timeout.
"""
import json
import os
import ssl
import traceback
import uuid
from functools import cache
from http import HTTPStatus

import boto3
from botocore.config import Config

env = os.environ.get
TIMEOUT = 2
CACHE_SECONDS = 60


@cache
def aws(name):
    config = Config(connect_timeout=TIMEOUT, read_timeout=TIMEOUT, retries={"max_attempts": 1})
    return boto3.client(name, config=config)


# The request's Origin when it is one of the site's (ALLOWED_ORIGINS, set by the stack), for
# this invocation's answer: an environment runs one request at a time.
origin = None


def allowed_origin(event):
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    o = headers.get("origin")
    return o if o and o in (env("ALLOWED_ORIGINS") or "").split(",") else None


def reply(code, body=None, headers=None):
    h = {"Content-Type": "application/json", "Cache-Control": "no-store", "Vary": "Origin"}
    if origin:
        h["Access-Control-Allow-Origin"] = origin
    h.update(headers or {})
    return {"statusCode": code, "headers": h, "body": "" if body is None else json.dumps(body)}


def err(code, message=None):
    return reply(code, {"error": message or HTTPStatus(code).phrase})


# --- the stores --------------------------------------------------------------------------------

# RDS's server certificates chain to RDS's own CAs, which no system trust store holds: the
# database is verified against AWS's RDS bundle, carried beside this file (scripts/rds-ca-bundle
# fetches it from https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem).
# RDS_CA_BUNDLE in the environment names another file (the local cloud sets it for its tasks).
RDS_CA_BUNDLE = env("RDS_CA_BUNDLE") or os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                     "rds-ca-bundle.pem")


@cache
def rds_tls():
    """TLS that trusts RDS's CAs alone, checking the host name; never the system store."""
    if not os.path.exists(RDS_CA_BUNDLE):
        raise FileNotFoundError(f"no RDS CA bundle at {RDS_CA_BUNDLE}: run scripts/rds-ca-bundle "
                                "before deploying (it fetches AWS's global-bundle.pem)")
    return ssl.create_default_context(cafile=RDS_CA_BUNDLE)


def postgres_query(sql):
    """Runs `sql` as DB_USER, signed in with an IAM authentication token (RDS requires TLS for
    it); one connection per call: the deep check is rare, and a kept one would go stale."""
    import pg8000.native

    host, port, user = env("DB_HOST"), int(env("DB_PORT") or 5432), env("DB_USER")
    token = aws("rds").generate_db_auth_token(DBHostname=host, Port=port, DBUsername=user)
    conn = pg8000.native.Connection(user, host=host, port=port, database="postgres",
                                    password=token, ssl_context=rds_tls(), timeout=TIMEOUT)
    try:
        return conn.run(sql)
    finally:
        conn.close()


@cache
def redis_client():
    """Redis over TLS with the AUTH token, kept while warm: the function reads it from Secrets
    Manager; a container gets it from ECS as REDIS_TOKEN (its task definition's secrets)."""
    import redis

    token = env("REDIS_TOKEN") or aws("secretsmanager").get_secret_value(
        SecretId=env("REDIS_SECRET_ARN"))["SecretString"]
    return redis.Redis(host=env("REDIS_HOST"), port=int(env("REDIS_PORT") or 6379), password=token,
                       ssl=True, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)


def ping_redis():
    """PING; a refused AUTH drops the kept client, so a rotated token is read again."""
    import redis

    try:
        redis_client().ping()
    except redis.exceptions.AuthenticationError:
        redis_client.cache_clear()
        raise


def check(var, use):
    """"ok", "not configured" (the stack has no such store) or what went wrong; never raises."""
    if not env(var):
        return "not configured"
    try:
        use(env(var))
        return "ok"
    except Exception as e:  # the details (hosts, ARNs) go to the log, not to the caller
        print(f"health: {var}: {type(e).__name__}: {e}", flush=True)
        return f"error: {type(e).__name__}"


def deep():
    stores = {
        "dynamodb": check("TABLE_NAME", lambda t: aws("dynamodb").describe_table(TableName=t)),
        "s3": check("APP_BUCKET", lambda b: aws("s3").list_objects_v2(Bucket=b, MaxKeys=1)),
        "postgres": check("DB_HOST", lambda _: postgres_query("SELECT 1")),
        "redis": check("REDIS_HOST", lambda _: ping_redis()),
    }
    if env("PARAMETER_PATH"):  # the container's: the stack's parameters, read with its role
        stores["parameters"] = check("PARAMETER_PATH", lambda p: aws("ssm").get_parameters_by_path(
            Path=p.rstrip("/"), MaxResults=1))
    ok = all(v in ("ok", "not configured") for v in stores.values())
    return reply(200 if ok else 503, {"ok": ok, "stores": stores})


# --- items -------------------------------------------------------------------------------------

def cached(key, load):
    """(value, "hit"|"miss"|"off"): through Redis when the stack has it; a Redis failure falls
    back to `load` (the deep check reports the store)."""
    if not env("REDIS_HOST"):
        return load(), "off"
    try:
        hit = redis_client().get(key)
        if hit is not None:
            return json.loads(hit), "hit"
    except Exception:
        traceback.print_exc()
        return load(), "off"
    value = load()
    try:
        redis_client().set(key, json.dumps(value), ex=CACHE_SECONDS)
    except Exception:
        traceback.print_exc()
    return value, "miss"


def forget(key):
    if env("REDIS_HOST"):
        try:
            redis_client().delete(key)
        except Exception:  # the entry expires within CACHE_SECONDS
            traceback.print_exc()


def items(method, body, sub, pk=None):
    db, table, list_key = aws("dynamodb"), env("TABLE_NAME"), f"items:{sub}"
    mine = {"ExpressionAttributeNames": {"#o": "owner"},
            "ExpressionAttributeValues": {":sub": {"S": sub}}}
    if pk is None and method == "GET":
        def load():
            q = db.query(TableName=table, IndexName=env("OWNER_INDEX"),
                         KeyConditionExpression="#o = :sub", Limit=50, **mine)
            return [json.loads(i["doc"]["S"]) for i in q["Items"]]
        found, how = cached(list_key, load)
        return reply(200, found, {"X-Cache": how})
    if pk is None and method == "POST":
        try:
            doc = json.loads(body or "")
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            return err(400, "body must be a JSON object")
        doc.pop("owner", None)  # id and owner are not the client's to set
        doc["id"] = pk = str(uuid.uuid4())
        db.put_item(TableName=table,
                    Item={"pk": {"S": pk}, "owner": {"S": sub}, "doc": {"S": json.dumps(doc)}})
        forget(list_key)
        return reply(201, doc)
    key = {"pk": {"S": pk}}
    if pk is not None and method == "GET":
        item = db.get_item(TableName=table, Key=key).get("Item")
        if item and item.get("owner", {}).get("S") == sub:
            return reply(200, json.loads(item["doc"]["S"]))
        return err(404)
    if pk is not None and method == "DELETE":
        try:  # someone else's item answers as a missing one does
            db.delete_item(TableName=table, Key=key, ConditionExpression="#o = :sub", **mine)
        except db.exceptions.ConditionalCheckFailedException:
            return err(404)
        forget(list_key)
        return reply(204)
    return err(405)


def handler(event, context):
    global origin
    origin = allowed_origin(event)
    try:
        method = event.get("httpMethod")
        path = [p for p in (event.get("path") or "").split("/") if p]
        if path == ["health"]:
            return reply(200, {"ok": True}) if method == "GET" else err(405)
        if path != ["health", "deep"] and (path[:1] != ["items"] or len(path) > 2):
            return err(404)
        claims = ((event.get("requestContext") or {}).get("authorizer") or {}).get("claims") or {}
        sub = claims.get("sub")
        if not sub:
            return err(401)
        if path[0] == "health":
            return deep() if method == "GET" else err(405)
        return items(method, event.get("body"), sub, *path[1:])
    except Exception:  # still JSON with CORS, not API Gateway's bare 502
        traceback.print_exc()
        return err(500)
