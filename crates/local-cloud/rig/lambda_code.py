"""GET /_shipit/lambda/NAME?region=R: a function as shipit's local Lambda runtime needs it.

On AWS: Lambda runs a function's deployment package; GetFunction answers its configuration and
a presigned URL of the package. In moto: the package's bytes are kept, but the URL leads
nowhere. Here: the configuration Lambda would run it with (runtime, handler, timeout, memory,
environment, role), temporary credentials of its role, the package's files, base64-encoded,
with a digest of the package so a caller can tell a code change, and the certificates the
function must trust to reach the local data tier (rig/datatier.py). NAME may be a function's
name or ARN, with a version (its code) or an alias (then only where the alias sends traffic:
its version and the weights of the others); the account is moto's.

Invoke: moto would run a function in Docker, which this machine has not. shipit's local Lambda
runtime runs it instead, and its Lambda front (local_cloud::servers::invoke) asks here first, with the caller's
own signed Invoke request and the header X-Shipit-Invoke: probe, whether the call may run:
IAM judges it as any request of a function's role (rig/function_identity.py), then
invocable() answers 204 when the function and version exist, or Lambda's own not-found error.
"""
import base64
import hashlib
import io
import json
import re
import zipfile
from urllib.parse import parse_qs, unquote

from moto.core import DEFAULT_ACCOUNT_ID

from rig import datatier, function_identity

# Where a function carries RDS's CA bundle (site-example/api does; scripts/rds-ca-bundle fetches
# AWS's).
RDS_BUNDLE = "rds-ca-bundle.pem"


def _split(name):
    """(function name or unqualified ARN, qualifier or None): `f`, `f:3`, `f:live`, or an ARN
    with or without its qualifier."""
    if name.startswith("arn:"):
        parts = name.split(":")
        return ":".join(parts[:7]), (parts[7] if len(parts) > 7 else None)
    base, _, qualifier = name.partition(":")
    return base, qualifier or None


def describe(name, query):
    from moto.awslambda.models import lambda_backends
    region = (parse_qs(query).get("region") or ["us-east-1"])[0]
    name = unquote(name)
    backend = lambda_backends[DEFAULT_ACCOUNT_ID][region]
    base, qualifier = _split(name)
    try:
        if qualifier and not qualifier.isdigit() and qualifier != "$LATEST":
            # An alias: where its traffic goes (the caller picks a version by the weights).
            alias = backend.get_alias(qualifier, base)
            weights = (alias.routing_config or {}).get("AdditionalVersionWeights") or {}
            return "200 OK", {"alias": {
                "name": alias.name, "arn": alias.arn,
                "function": backend.get_function(base).function_arn,
                "version": str(alias.function_version),
                "weights": {str(k): float(v) for k, v in weights.items()}}}
        fn = backend.get_function(base, qualifier)
    except Exception as e:  # moto's not-found exceptions differ by version
        return "404 Not Found", {"error": f"no function {name} in {region}: {type(e).__name__}"}
    if fn is None:
        return "404 Not Found", {"error": f"no function {name} in {region}"}
    package = fn.code_bytes or b""
    files = {}
    try:
        with zipfile.ZipFile(io.BytesIO(package)) as z:
            for info in z.infolist():
                if not info.is_dir():
                    files[info.filename] = base64.b64encode(z.read(info)).decode()
    except zipfile.BadZipFile:
        return "422 Unprocessable Entity", {
            "error": f"function {name} has no zip package here (an image, or no code)"}
    # RDS's certificates chain to RDS's own CAs, which a function trusts only through the bundle
    # it carries (AWS's global-bundle.pem, as rds-ca-bundle.pem at its root). The local RDS CA
    # stands in for those: it joins the bundle the package carries, so code that verifies the
    # database against that bundle connects here as on RDS, and code that trusts the system
    # store fails here as on RDS. A package without the bundle gets the local CA alone (on AWS
    # its deep check would fail: stack/README.md says so).
    rds = datatier.trusted(datatier.RDS_CA)
    if rds:
        carried = base64.b64decode(files.get(RDS_BUNDLE, "")).decode("utf-8", "replace")
        files[RDS_BUNDLE] = base64.b64encode(
            (carried.rstrip("\n") + "\n" + "".join(rds)).lstrip("\n").encode()).decode()
    return "200 OK", {
        "name": fn.function_name,
        "arn": fn.function_arn,
        "runtime": fn.run_time,
        "handler": fn.handler,
        "timeout": int(fn.timeout),
        "memory": int(fn.memory_size),
        "role": fn.role,
        # Strings, as Lambda keeps them (patches/lambda_environment_strings.py).
        "environment": dict(fn.environment_vars or {}),
        "digest": hashlib.sha256(package).hexdigest(),
        # What the function must trust besides the public roots: the data tier's public CA.
        "trust": datatier.trusted(datatier.PUBLIC_CA),
        # Lambda's runtime gets temporary credentials of the execution role; requests signed
        # with them are judged by IAM and the function's network (rig/function_identity.py).
        "credentials": function_identity.credentials_for(fn),
        "files": files,
    }


PROBE_HEADER = "HTTP_X_SHIPIT_INVOKE"
_INVOKE = re.compile(r"/2015-03-31/functions/([^/]+)/invocations")


def invocable(environ):
    """(status, headers, body) for an Invoke probe: 204 when the function (and the qualifier,
    from the query or the name) exists, else Lambda's ResourceNotFoundException."""
    from moto.awslambda.models import lambda_backends
    m = _INVOKE.fullmatch(environ.get("PATH_INFO", ""))
    # The signing scope's region, read as function_identity reads it.
    scope = function_identity._CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
    region = scope.group(2) if scope else "us-east-1"
    name = unquote(m.group(1)) if m else ""
    base, qualifier = _split(name)
    qualifier = (parse_qs(environ.get("QUERY_STRING", "")).get("Qualifier") or [qualifier])[0]
    try:
        fn = lambda_backends[DEFAULT_ACCOUNT_ID][region].get_function(base, qualifier)
    except Exception:
        fn = None
    if not m or fn is None:
        shown = f"{base}:{qualifier}" if qualifier else base
        body = json.dumps({"Type": "User",
                           "Message": f"Function not found: {shown}"}).encode()
        return "404 Not Found", [("Content-Type", "application/json"),
                                 ("x-amzn-ErrorType", "ResourceNotFoundException")], body
    return "204 No Content", [], b""
