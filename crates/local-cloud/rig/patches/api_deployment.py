"""API Gateway deployments made by CloudFormation: a Ref is their id, and they can be deleted.

On AWS: `!Ref` of an AWS::ApiGateway::Deployment is its deployment id, and when a template
drops a deployment (shipit renames it whenever the API changes, so the stage moves to a new
snapshot) CloudFormation deletes the old one from the API.
In moto: the Deployment model has no physical resource id, so `!Ref` hands the Python object
itself to whatever refers to it (a stage's DeploymentId then breaks GetStage with an HTTP 500),
and it cannot be deleted: an API keeps every deployment a stack ever made.
The patch: the model's CloudFormation create records its API; the model gets a physical
resource id (its id) and a delete that removes it from its API.
"""
from rig.moto_version import check


def apply():
    """Check the moto version, then patch it as above (rig.install() calls this once)."""
    check(__name__)
    from moto.apigateway.models import Deployment, apigateway_backends

    original_create = Deployment.create_from_cloudformation_json.__func__

    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        deployment = original_create(cls, resource_name, cloudformation_json, account_id,
                                     region_name, **kwargs)
        deployment.rest_api_id = cloudformation_json["Properties"]["RestApiId"]
        return deployment

    def delete(self, account_id, region_name):
        api = apigateway_backends[account_id][region_name].apis.get(self.rest_api_id)
        if api is not None:
            api.deployments.pop(self.id, None)

    Deployment.create_from_cloudformation_json = classmethod(create)
    Deployment.physical_resource_id = property(lambda self: self.id)
    Deployment.delete = delete
