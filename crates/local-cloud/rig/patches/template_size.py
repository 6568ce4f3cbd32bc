"""A template sent inline is at most 51,200 bytes; a larger one must come by TemplateURL.

On AWS: CreateChangeSet, CreateStack, UpdateStack and ValidateTemplate take a TemplateBody of "a
maximum length of 51,200 bytes" and refuse a longer one with a ValidationError; a template of up
to 1 MB is read from S3 through TemplateURL instead, whose "location for an Amazon S3 bucket must
start with https://".
In moto: any TemplateBody is accepted, so a deploy that would fail on its first call to AWS
passes here; and moto reads a TemplateURL of any scheme.
The patch: those four calls refuse a TemplateBody over 51,200 bytes (UTF-8) with AWS's message,
and a TemplateURL that is not https.
"""
from rig.moto_version import check

LIMIT = 51_200


def apply():
    """Check the moto version, then patch it as above (rig.install() calls this once)."""
    check(__name__)
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.responses import CloudFormationResponse

    for name in ("create_change_set", "create_stack", "update_stack", "validate_template"):
        original = getattr(CloudFormationResponse, name)

        def limited(self, original=original):
            body = self._get_param("TemplateBody")
            if body is not None and len(body.encode("utf-8")) > LIMIT:
                raise ValidationError(
                    message="1 validation error detected: Value at 'templateBody' failed to satisfy "
                            f"constraint: Member must have length less than or equal to {LIMIT}")
            url = self._get_param("TemplateURL")
            if url is not None and not url.startswith("https://"):
                raise ValidationError(message="TemplateURL must be a supported URL.")
            return original(self)

        setattr(CloudFormationResponse, name, limited)
