"""API Gateway methods as CloudFormation makes them: a MOCK integration, and the whole method.

On AWS: an AWS::ApiGateway::Method's Integration needs IntegrationHttpMethod and Uri only for the
types that call a backend (a MOCK integration has neither), and the method keeps all it is
given: its authorizer, the integration's timeout, request templates and request parameters,
a private integration's connection (ConnectionType VPC_LINK, the link's id, and the load
balancer it targets: IntegrationTarget, for a VPC link V2), the integration's responses (a MOCK
preflight's status and CORS headers) and the method's responses.
In moto: the Method model reads IntegrationHttpMethod and Uri unconditionally, so a template
with a MOCK integration fails to create; and it keeps only the method's type and the
integration's type, URI and HTTP method, so GetMethod shows no authorizer and a MOCK answers
nothing; an integration has no connectionId or integrationTarget at all. A Method has no update
either: a changed method (another integration, once a parameter switches the backend) kept its
old integration, and the stack's resource map lost it (None).
The patch: IntegrationHttpMethod defaults to POST and Uri to "" (what moto needs; nothing is
ever called), and the model's create passes the rest to moto's own API calls (PutMethod with
the authorizer, PutIntegration with timeout and templates, PutIntegrationResponse,
PutMethodResponse), and the integration keeps its connection id and target, which GetMethod
returns, so the local API Gateway reads back what CloudFormation was given. An update puts the
method again, whole, as the create does.
"""
from rig.moto_version import check


def apply():
    """Check the moto version, then patch it as above (rig.install() calls this once)."""
    check(__name__)
    from moto.apigateway.models import Integration, Method, apigateway_backends

    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        props = cloudformation_json["Properties"]
        api, resource, verb = props["RestApiId"], props["ResourceId"], props["HttpMethod"]
        backend = apigateway_backends[account_id][region_name]
        method = backend.put_method(
            function_id=api, resource_id=resource, method_type=verb,
            authorization_type=props.get("AuthorizationType"),
            api_key_required=props.get("ApiKeyRequired"),
            request_parameters=props.get("RequestParameters"),
            authorizer_id=props.get("AuthorizerId"),
            authorization_scopes=props.get("AuthorizationScopes"))
        integration = props.get("Integration")
        if integration is not None:
            made = backend.put_integration(
                function_id=api, resource_id=resource, method_type=verb,
                integration_type=integration["Type"], uri=integration.get("Uri", ""),
                integration_method=integration.get("IntegrationHttpMethod", "POST"),
                request_templates=integration.get("RequestTemplates"),
                passthrough_behavior=integration.get("PassthroughBehavior"),
                timeout_in_millis=integration.get("TimeoutInMillis"),
                request_parameters=integration.get("RequestParameters"),
                connection_type=integration.get("ConnectionType"))
            made.connection_id = integration.get("ConnectionId")
            made.integration_target = integration.get("IntegrationTarget")
            for r in integration.get("IntegrationResponses") or []:
                backend.put_integration_response(
                    function_id=api, resource_id=resource, method_type=verb,
                    status_code=str(r["StatusCode"]), selection_pattern=r.get("SelectionPattern"),
                    response_templates=r.get("ResponseTemplates") or {},
                    response_parameters=r.get("ResponseParameters") or {})
        for r in props.get("MethodResponses") or []:
            method.create_response(str(r["StatusCode"]), r.get("ResponseModels") or {},
                                   r.get("ResponseParameters") or {})
        return method

    to_json = Integration.to_json

    def integration_json(self):
        doc = to_json(self)
        for key, attribute in (("connectionId", "connection_id"),
                               ("integrationTarget", "integration_target")):
            if getattr(self, attribute, None):
                doc[key] = getattr(self, attribute)
        return doc

    def update(cls, original_resource, new_resource_name, cloudformation_json, account_id,
               region_name):
        return create(cls, new_resource_name, cloudformation_json, account_id, region_name)

    Method.create_from_cloudformation_json = classmethod(create)
    Method.update_from_cloudformation_json = classmethod(update)
    Integration.to_json = integration_json
