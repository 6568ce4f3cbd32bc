"""GET /_shipit/lambda/NAME?region=R: a function as shipit's local Lambda runtime needs it.

On AWS: Lambda runs a function's deployment package; GetFunction answers its configuration and
a presigned URL of the package. In moto: the package's bytes are kept, but the URL leads
nowhere. Here: the configuration Lambda would run it with (runtime, handler, timeout, memory,
environment, role), temporary credentials of its role, the package's files, base64-encoded,
with a digest of the package so a caller can tell a code change, and the certificates the
function must trust to reach the local data tier (rig/datatier.py). NAME may be a function's name or ARN; the account is moto's.
"""
import base64
import hashlib
import io
import json
import zipfile
from urllib.parse import parse_qs, unquote

from moto.core import DEFAULT_ACCOUNT_ID

from rig import datatier, function_identity


def describe(name, query):
    from moto.awslambda.models import lambda_backends
    region = (parse_qs(query).get("region") or ["us-east-1"])[0]
    name = unquote(name)
    try:
        fn = lambda_backends[DEFAULT_ACCOUNT_ID][region].get_function(name)
    except Exception as e:  # moto's not-found exceptions differ by version
        return "404 Not Found", {"error": f"no function {name} in {region}: {type(e).__name__}"}
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
    return "200 OK", {
        "name": fn.function_name,
        "arn": fn.function_arn,
        "runtime": fn.run_time,
        "handler": fn.handler,
        "timeout": int(fn.timeout),
        "memory": int(fn.memory_size),
        "role": fn.role,
        # Lambda's variables are strings; moto keeps a GetAtt's number (a port) as it came.
        "environment": {k: v if isinstance(v, str) else json.dumps(v)
                        for k, v in (fn.environment_vars or {}).items()},
        "digest": hashlib.sha256(package).hexdigest(),
        # What the function must trust besides the public roots: the data tier's CA.
        "trust": datatier.trusted(),
        # Lambda's runtime gets temporary credentials of the execution role; requests signed
        # with them are judged by IAM and the function's network (rig/function_identity.py).
        "credentials": function_identity.credentials_for(fn),
        "files": files,
    }
