"""A function's (and an ECS task's) own identity and network, as strict as Lambda's and ECS's.

On AWS: a function's code calls AWS with temporary credentials of its execution role (a task's
with its task role's), and IAM refuses what the role's policies (and its permissions boundary)
do not allow. A function or task in a VPC reaches a service only through the VPC's endpoints
(or a NAT gateway): anything else times out.
In moto: IAM is not evaluated for callers, and there is no network to restrict.
Here: the local Lambda runtime asks for credentials of the function's role
(credentials_for, through GET /_shipit/lambda/NAME), and the rig's ECS (rig/ecs_tasks.py) for
its task role's (task_credentials); moto's STS mints them, and every request signed with them
passes refusal() before moto sees it:
- the network first: when the function has VpcConfig subnets (a task, its service's awsvpc
  subnets) and none of their route tables
  routes to a NAT gateway, a service without an endpoint in the VPC gets no answer (the request
  is held for HOLD_SECONDS, then the connection is dropped), as a private subnet's call times out;
- then IAM: the action and the resource the request names (DynamoDB's table or index, the
  secret, the bucket or object, the Lambda function's version or alias; "*" for what this module
  does not map; an SSM parameter or path by its name) are evaluated against
  the role's inline and attached policies and its boundary (patches/lambda_role_permissions's
  evaluator): no Allow, or an explicit Deny, is AccessDenied in the service's own error shape,
  with IAM's wording.
Requests signed with any other key (shipit, the tests) are not judged. Not reproduced: resource
policies (a bucket's, a secret's, a VPC endpoint's), conditions (a statement with a Condition
that could decide is refused as CannotEvaluate), and session policies.
"""
import json
import re
import threading
import time
from urllib.parse import parse_qs, unquote

HOLD_SECONDS = 30
SESSION_SECONDS = 3600
# Credentials are handed out again until this long before they expire: the local runtime reads
# a function every few seconds, and each new STS session would stay in moto for good.
REUSE_SECONDS = SESSION_SECONDS - 600
_sessions = {}  # access key id -> the function's ARN, or a task (see Caller)
_issued = {}  # (function ARN, role ARN) -> (when, credentials)
_lock = threading.Lock()
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")


def credentials_for(function):
    """Temporary credentials of `function`'s execution role (a moto Lambda function), as Lambda
    gives its runtime: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN. The same
    ones while they are fresh; a new role (the function's changed) gets new ones."""
    from moto.sts.models import sts_backends
    from moto.utilities.utils import get_partition

    wanted = (function.function_arn, function.role)
    with _lock:
        issued = _issued.get(wanted)
    if issued and time.monotonic() - issued[0] < REUSE_SECONDS:
        return dict(issued[1])
    region = function.region
    sts = sts_backends[function.account_id][get_partition(region)]
    session = sts.assume_role(region_name=region, role_session_name=function.function_name[:64],
                              role_arn=function.role, policy=None,
                              duration=SESSION_SECONDS, external_id=None)
    credentials = {"AWS_ACCESS_KEY_ID": session.access_key_id,
                   "AWS_SECRET_ACCESS_KEY": session.secret_access_key,
                   "AWS_SESSION_TOKEN": session.session_token}
    with _lock:
        _sessions[session.access_key_id] = function.function_arn
        _issued[wanted] = (time.monotonic(), credentials)
    return dict(credentials)


class Caller:
    """Who signs with a session's keys: the role, the session's name (the principal's last
    part), the account and region, and the subnets it runs in (none: outside a VPC)."""

    def __init__(self, role, name, account, region, subnets):
        self.role, self.name, self.account, self.region = role, name, account, region
        self.subnets = list(subnets or [])


def task_credentials(caller, duration=SESSION_SECONDS):
    """Temporary credentials of `caller.role` (an ECS task's role), as ECS's credentials
    endpoint hands them out: AccessKeyId, SecretAccessKey, Token, Expiration, RoleArn. Requests
    signed with them are judged as `caller`."""
    from moto.sts.models import sts_backends
    from moto.utilities.utils import get_partition

    sts = sts_backends[caller.account][get_partition(caller.region)]
    session = sts.assume_role(region_name=caller.region, role_session_name=caller.name[:64],
                              role_arn=caller.role, policy=None, duration=duration,
                              external_id=None)
    with _lock:
        _sessions[session.access_key_id] = caller
    expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + duration))
    return {"AccessKeyId": session.access_key_id, "SecretAccessKey": session.secret_access_key,
            "Token": session.session_token, "Expiration": expires, "RoleArn": caller.role}


def _caller(session):
    """The Caller behind a session: a task's as it was registered; a function's as the function
    is now (its role or network may have changed); None for a function deleted since."""
    if isinstance(session, Caller):
        return session
    from moto.awslambda.models import lambda_backends
    account, region = session.split(":")[4], session.split(":")[3]
    try:
        function = lambda_backends[account][region].get_function(session)
    except Exception:  # deleted since: judged as no function (nothing allowed)
        return None
    vpc = getattr(function, "_vpc_config", None) or {}
    return Caller(function.role, function.function_name, function.account_id, function.region,
                  vpc.get("SubnetIds"))


def reachable(account, region, subnets, service):
    """Whether something in `subnets` (none: outside a VPC) can reach `service`: the signing
    name (s3, dynamodb, ...), or an endpoint's last parts (ecr.dkr)."""
    if not subnets:
        return True  # outside a VPC: Lambda's own network reaches every public endpoint
    from moto.ec2.models import ec2_backends
    ec2 = ec2_backends[account][region]
    try:
        vpc_ids = {ec2.get_subnet(s).vpc_id for s in subnets}
    except Exception:
        return False
    for subnet in subnets:
        table = _route_table(ec2, subnet, vpc_ids)
        if table is not None and any(getattr(r, "nat_gateway", None) is not None
                                     for r in table.routes):
            return True
    for endpoint in ec2.vpc_end_points.values():
        name = endpoint.service_name
        if endpoint.vpc_id in vpc_ids and (name == service or name.endswith("." + service)):
            return True
    return False


def _route_table(ec2, subnet, vpc_ids):
    """The subnet's route table: the one associated with it, else its VPC's main one."""
    tables = list(ec2.route_tables.values())
    for table in tables:
        if subnet in table._associations.values():
            return table
    for table in tables:
        if table.vpc_id in vpc_ids and table.main_association_id is not None:
            return table
    return None


def _action_and_resource(environ, service, region, account, body):
    """(IAM action, resource ARN) the request asks for."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    doc = {}
    if target:
        try:
            doc = json.loads(body or b"{}")
        except ValueError:
            doc = {}
    if service == "dynamodb" and target:
        operation = target.split(".", 1)[-1]
        table = doc.get("TableName", "*")
        resource = f"arn:aws:dynamodb:{region}:{account}:table/{table}"
        if doc.get("IndexName"):
            resource += f"/index/{doc['IndexName']}"
        return f"dynamodb:{operation}", resource
    if service == "secretsmanager" and target:
        operation = target.split(".", 1)[-1]
        secret = doc.get("SecretId", "*")
        if not secret.startswith("arn:"):
            secret = _secret_arn(secret, region, account)
        return f"secretsmanager:{operation}", secret
    if service == "ssm" and target:
        # A parameter (or a path) by name, its version selector (name:3) aside; GetParameters
        # names several, each judged.
        operation = target.split(".", 1)[-1]

        def arn(name):
            name = name.split(":")[0] if not name.startswith("arn:") else name  # no selector
            if name.startswith("arn:"):
                return name
            return f"arn:aws:ssm:{region}:{account}:parameter/{name.lstrip('/')}"
        names = doc.get("Names") or [doc.get("Name") or doc.get("Path") or "*"]
        return f"ssm:{operation}", [arn(n) for n in names]
    if service == "s3":
        return _s3(environ)
    if service == "lambda":
        return _lambda(environ, region, account)
    if target:
        return f"{service}:{target.split('.', 1)[-1]}", "*"
    form = parse_qs(environ.get("QUERY_STRING", "")) or parse_qs((body or b"").decode(errors="replace"))
    action = (form.get("Action") or ["Unknown"])[0]
    return f"{service}:{action}", "*"


def _secret_arn(name, region, account):
    from moto.secretsmanager.models import secretsmanager_backends
    try:
        return secretsmanager_backends[account][region].secrets[name].arn
    except Exception:
        return f"arn:aws:secretsmanager:{region}:{account}:secret:{name}"


def _s3(environ):
    """S3's REST operations the way IAM names them (path-style addressing, as here)."""
    path = unquote(environ.get("PATH_INFO", "")).lstrip("/")
    bucket, _, key = path.partition("/")
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    method = environ.get("REQUEST_METHOD", "GET")
    if not bucket:
        return "s3:ListAllMyBuckets", "*"
    if not key:
        if method == "POST" and "delete" in query:
            # DeleteObjects: IAM judges s3:DeleteObject (the keys are in the body).
            return "s3:DeleteObject", f"arn:aws:s3:::{bucket}/*"
        if method in ("GET", "HEAD") and not (set(query) - {"list-type", "prefix", "delimiter",
                                                           "max-keys", "continuation-token",
                                                           "start-after", "encoding-type",
                                                           "fetch-owner", "versions",
                                                           "key-marker", "version-id-marker"}):
            return ("s3:ListBucketVersions" if "versions" in query else "s3:ListBucket",
                    f"arn:aws:s3:::{bucket}")
        return f"s3:{method.title()}Bucket", f"arn:aws:s3:::{bucket}"
    action = {"GET": "s3:GetObject", "HEAD": "s3:GetObject", "PUT": "s3:PutObject",
              "POST": "s3:PutObject", "DELETE": "s3:DeleteObject"}.get(method, "s3:Unknown")
    if "versionId" in query:  # a version of the object: IAM's *Version actions
        action = {"s3:GetObject": "s3:GetObjectVersion",
                  "s3:DeleteObject": "s3:DeleteObjectVersion"}.get(action, action)
    return action, f"arn:aws:s3:::{bucket}/{key}"


# Lambda's REST operations a function may call (the pre-traffic gate calls these three), by
# method and path under /2015-03-31/functions/: IAM's action, and whether the resource is the
# function's ARN qualified as the request is (Invoke) or the unqualified one (the alias's own
# operations name the function, as Lambda's IAM reference lists them).
_LAMBDA = [
    ("POST", re.compile(r"([^/]+)/invocations"), "lambda:InvokeFunction", True),
    ("GET", re.compile(r"([^/]+)/aliases/([^/]+)"), "lambda:GetAlias", False),
    ("PUT", re.compile(r"([^/]+)/aliases/([^/]+)"), "lambda:UpdateAlias", False),
    ("GET", re.compile(r"([^/]+)"), "lambda:GetFunction", True),
]


def _lambda(environ, region, account):
    """Lambda's REST operations the way IAM names them; what is not mapped is lambda:Unknown
    (refused)."""
    path = environ.get("PATH_INFO", "")
    prefix = "/2015-03-31/functions/"
    method = environ.get("REQUEST_METHOD", "GET")
    if path.startswith(prefix):
        for verb, pattern, action, qualified in _LAMBDA:
            m = pattern.fullmatch(path[len(prefix):])
            if m and verb == method:
                name = unquote(m.group(1))
                if name.startswith("arn:"):
                    parts = name.split(":")
                    name, qualifier = parts[6], (parts[7] if len(parts) > 7 else None)
                else:
                    name, _, qualifier = name.partition(":")
                query = parse_qs(environ.get("QUERY_STRING", ""))
                qualifier = (query.get("Qualifier") or [qualifier])[0]
                arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
                return action, (f"{arn}:{qualifier}" if qualified and qualifier else arn)
    return "lambda:Unknown", "*"


def allowed(role_arn, action, resource):
    """None when the role may, else why not (IAM's wording)."""
    from moto.iam.models import iam_backends
    from moto.utilities.utils import get_partition
    from rig.iam import CannotEvaluate, decide, default_document, managed_policy, role_policies

    account = role_arn.split(":")[4]
    iam = iam_backends[account][get_partition("us-east-1")]
    try:
        role = iam.get_role_by_arn(role_arn)
    except Exception:
        return "the role does not exist"
    try:
        if decide(role_policies(role), action, resource) != "allow":
            return f"because no identity-based policy allows the {action} action"
        if role.permissions_boundary_arn:
            boundary = managed_policy(iam, role.permissions_boundary_arn)
            if boundary is None or decide([(boundary.arn, default_document(boundary))],
                                          action, resource) != "allow":
                return f"because no permissions boundary allows the {action} action"
    except CannotEvaluate as e:
        return f"because the rig cannot evaluate it: {e}"
    return None


def refusal(environ, read_body):
    """None to let moto answer; else (status, headers, body) of the refusal, or "hold" for a
    service the function's network cannot reach. `read_body()` gives the request's body (read
    only for a function's request)."""
    match = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
    if not match:
        return None
    key, region, service = match.groups()
    with _lock:
        session = _sessions.get(key)
    if session is None:
        return None
    caller = _caller(session)
    if caller is None or not reachable(caller.account, caller.region, caller.subnets, service):
        return "hold"
    action, resources = _action_and_resource(environ, service, region, caller.account,
                                             read_body())
    # A call that names several (SSM's GetParameters) is refused whole for one outside.
    why, resource = None, resources
    for resource in resources if isinstance(resources, list) else [resources]:
        why = allowed(caller.role, action, resource)
        if why is not None:
            break
    if why is None:
        return None
    principal = (f"arn:aws:sts::{caller.account}:assumed-role/"
                 f"{caller.role.rsplit('/', 1)[-1]}/{caller.name[:64]}")
    message = (f"User: {principal} is not authorized to perform: {action} on resource: "
               f"{resource} {why}")
    if service == "lambda":  # REST-JSON: the type in a header, the message in the body
        doc = json.dumps({"Type": "User", "Message": message}).encode()
        return "403 Forbidden", [("Content-Type", "application/json"),
                                 ("x-amzn-ErrorType", "AccessDeniedException")], doc
    if environ.get("HTTP_X_AMZ_TARGET"):
        doc = json.dumps({"__type": "AccessDeniedException", "message": message}).encode()
        return "400 Bad Request", [("Content-Type", "application/x-amz-json-1.0"),
                                   ("x-amzn-ErrorType", "AccessDeniedException")], doc
    code = "AccessDenied"
    xml = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>"
           f"<Message>{_escape(message)}</Message></Error>").encode()
    return "403 Forbidden", [("Content-Type", "application/xml")], xml


def _escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def hold():
    """What a call to an unreachable service gets: nothing, until the caller gives up."""
    time.sleep(HOLD_SECONDS)
