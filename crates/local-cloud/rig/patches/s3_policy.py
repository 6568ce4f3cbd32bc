"""Bucket policies evaluated with Principal and Condition, as S3 does.

On AWS: a bucket policy statement applies only to its Principal and only when its Condition
holds.
In moto: a bucket policy's Action and Resource are evaluated only: an OAC policy ("only
cloudfront.amazonaws.com, only from this distribution") makes the bucket readable by anyone,
and a TLS-only Deny (aws:SecureTransport = false) denies everyone, the owner included.
The patch: the rig records who makes each request (set_context, called by scripts/local-cloud's
WSGI wrapper in the request's thread) and replaces FakeBucket.get_permission with this evaluator.

Who is asking:
- no Authorization header and no presigned query: anonymous;
- signed with the access key CLOUDFRONT: the service principal cloudfront.amazonaws.com, with
  aws:SourceArn from the x-amz-source-arn header (what shipit's local edge sends, as OAC does);
- any other signature: the account's own principal (IAM itself is not emulated: the account
  may do what no explicit Deny forbids).
aws:SecureTransport is true: the rig stands in for S3's HTTPS endpoints.
"""
import fnmatch
import json
import threading

from rig.moto_version import check

ACCOUNT_ID = "123456789012"
OAC_ACCESS_KEY = "CLOUDFRONT"

_local = threading.local()


class Context:
    def __init__(self, kind, account=ACCOUNT_ID, service=None, source_arn=None, secure=True):
        self.kind = kind  # "anonymous" | "account" | "service"
        self.account = account
        self.service = service
        self.source_arn = source_arn
        self.secure = secure

    def keys(self):
        keys = {"aws:securetransport": "true" if self.secure else "false"}
        if self.source_arn:
            keys["aws:sourcearn"] = self.source_arn
            keys["aws:sourceaccount"] = self.source_arn.split(":")[4] if self.source_arn.count(":") >= 4 else ""
        if self.kind == "account":
            keys["aws:principalaccount"] = self.account
            keys["aws:principaltype"] = "Account"
        if self.kind == "service":
            keys["aws:principalservicename"] = self.service or ""
        return keys


def context_from_environ(environ):
    auth = environ.get("HTTP_AUTHORIZATION", "")
    query = environ.get("QUERY_STRING", "")
    secure = environ.get("HTTP_X_SHIPIT_INSECURE_TRANSPORT") != "1"
    if "Credential=" in auth:
        key = auth.split("Credential=", 1)[1].split("/", 1)[0]
        if key == OAC_ACCESS_KEY:
            return Context("service", service="cloudfront.amazonaws.com",
                           source_arn=environ.get("HTTP_X_AMZ_SOURCE_ARN"), secure=secure)
        return Context("account", secure=secure)
    if auth or "X-Amz-Signature=" in query or "Signature=" in query:
        return Context("account", secure=secure)
    return Context("anonymous", secure=secure)


def set_context(ctx):
    _local.ctx = ctx


def current():
    return getattr(_local, "ctx", None) or Context("account")


def _list(v):
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def _wild(pattern, value, case=False):
    if case:
        return fnmatch.fnmatchcase(value, pattern)
    return fnmatch.fnmatchcase(value.lower(), pattern.lower())


def _principal_matches(principal, ctx):
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    aws = _list(principal.get("AWS"))
    if "*" in aws:
        return True
    if ctx.kind == "account":
        for p in aws:
            if p == ctx.account or p.startswith(f"arn:aws:iam::{ctx.account}:"):
                return True
    if ctx.kind == "service":
        return ctx.service in _list(principal.get("Service"))
    return False


def _condition_matches(conditions, ctx):
    keys = ctx.keys()
    for operator, tests in (conditions or {}).items():
        if_exists = operator.endswith("IfExists")
        op = operator[: -len("IfExists")] if if_exists else operator
        for key, expected in tests.items():
            actual = keys.get(key.lower())
            expected = [str(e) for e in _list(expected)]
            if actual is None:
                if if_exists:
                    continue
                # A missing key fails every positive test and passes every negated one.
                if op.startswith(("StringNot", "ArnNot")):
                    continue
                return False
            if op in ("StringEquals", "ArnEquals"):
                ok = actual in expected
            elif op == "StringEqualsIgnoreCase":
                ok = actual.lower() in [e.lower() for e in expected]
            elif op in ("StringLike", "ArnLike"):
                ok = any(_wild(e, actual, case=True) for e in expected)
            elif op in ("StringNotEquals", "ArnNotEquals"):
                ok = actual not in expected
            elif op in ("StringNotLike", "ArnNotLike"):
                ok = not any(_wild(e, actual, case=True) for e in expected)
            elif op == "Bool":
                ok = actual.lower() in [e.lower() for e in expected]
            else:
                return False  # an operator the rig does not know never matches
            if not ok:
                return False
    return True


def _statement_applies(st, action, resource, ctx):
    if "Action" in st and not any(_wild(a, action) for a in _list(st["Action"])):
        return False
    if "NotAction" in st and any(_wild(a, action) for a in _list(st["NotAction"])):
        return False
    if "Resource" in st and not any(_wild(r, resource, case=True) for r in _list(st["Resource"])):
        return False
    if "NotResource" in st and any(_wild(r, resource, case=True) for r in _list(st["NotResource"])):
        return False
    if "Principal" in st and not _principal_matches(st["Principal"], ctx):
        return False
    if "NotPrincipal" in st and _principal_matches(st["NotPrincipal"], ctx):
        return False
    return _condition_matches(st.get("Condition"), ctx)


def evaluate(policy, action, resource, ctx):
    """"DENIED", "PERMITTED" or "NEUTRAL" for one request against one bucket policy."""
    statements = _list(json.loads(policy).get("Statement"))
    allowed = False
    for st in statements:
        if _statement_applies(st, action, resource, ctx):
            if st.get("Effect") == "Deny":
                return "DENIED"
            allowed = True
    if allowed:
        return "PERMITTED"
    # A service principal reads a bucket only when the policy says so; moto would let any
    # signed request through, so say DENIED here. Anonymous requests fall to moto's ACL check.
    return "DENIED" if ctx.kind == "service" else "NEUTRAL"


def apply():
    """Check the moto version, then patch it as above (rig.install() calls this once)."""
    check(__name__)
    from moto.iam.access_control import PermissionResult
    from moto.s3.models import FakeBucket

    results = {"DENIED": PermissionResult.DENIED, "PERMITTED": PermissionResult.PERMITTED,
               "NEUTRAL": PermissionResult.NEUTRAL}

    def get_permission(self, action, resource):
        ctx = current()
        if self.policy is None:
            return PermissionResult.DENIED if ctx.kind == "service" else PermissionResult.NEUTRAL
        policy = self.policy.decode() if isinstance(self.policy, bytes) else self.policy
        return results[evaluate(policy, action, resource, ctx)]

    FakeBucket.get_permission = get_permission
