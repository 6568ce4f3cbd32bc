"""API Gateway methods whose integration has no IntegrationHttpMethod (a MOCK integration).

On AWS: an AWS::ApiGateway::Method's Integration needs IntegrationHttpMethod and Uri only for the
types that call a backend; a MOCK integration has neither.
In moto: the Method model reads both unconditionally, so a template with a MOCK integration
fails to create.
The patch: before moto's model reads an Integration, IntegrationHttpMethod defaults to POST and
Uri to "" (what moto needs; nothing is ever called).
"""
from rig.moto_version import check


def apply():
    """Check the moto version, then patch it as above (rig.install() calls this once)."""
    check(__name__)
    from moto.apigateway.models import Method

    original = Method.create_from_cloudformation_json.__func__

    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        integration = cloudformation_json.get("Properties", {}).get("Integration")
        if integration is not None:
            integration.setdefault("IntegrationHttpMethod", "POST")
            integration.setdefault("Uri", "")
        return original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)

    Method.create_from_cloudformation_json = classmethod(create)
