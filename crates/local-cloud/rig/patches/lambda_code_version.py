"""A function's code is read at the S3 object version it names.

On AWS: Lambda reads a function's package (Code.S3Bucket/S3Key) at Code.S3ObjectVersion when it
is given, on create and on every code update, whatever the key holds now; a version that does
not exist is refused ("NoSuchVersion").
In moto: S3ObjectVersion is ignored and the key's current object is read, so a package
overwritten under its key would run here, where on AWS the pinned one runs.
The patch: while Lambda reads a package, S3's get_object of that bucket and key is given the
pinned version.
"""
import contextlib
import threading

from rig.moto_version import check

_pin = threading.local()


@contextlib.contextmanager
def pinned(code):
    """While reading `code`'s package: its bucket, key and version, if it names a version."""
    code = code if isinstance(code, dict) else {}
    previous = getattr(_pin, "value", None)
    if code.get("S3ObjectVersion"):
        _pin.value = (code.get("S3Bucket"), code.get("S3Key"), code["S3ObjectVersion"])
    try:
        yield
    finally:
        _pin.value = previous


def apply():
    """Check the moto version, then patch it as above (rig.install() calls this once)."""
    check(__name__)
    from moto.awslambda import models as lambda_models
    from moto.s3.models import S3Backend

    original_validate = lambda_models._validate_s3_bucket_and_key
    original_update = lambda_models.LambdaFunction.update_function_code
    original_get = S3Backend.get_object

    def validate(account_id, partition, data):
        with pinned(data):
            return original_validate(account_id, partition, data)

    def update_function_code(self, updated_spec):
        with pinned(updated_spec):
            return original_update(self, updated_spec)

    def get_object(self, bucket_name, key_name, version_id=None, *args, **kwargs):
        pin = getattr(_pin, "value", None)
        if version_id is None and pin and pin[:2] == (bucket_name, key_name):
            version_id = pin[2]
        return original_get(self, bucket_name, key_name, version_id, *args, **kwargs)

    lambda_models._validate_s3_bucket_and_key = validate
    lambda_models.LambdaFunction.update_function_code = update_function_code
    S3Backend.get_object = get_object
