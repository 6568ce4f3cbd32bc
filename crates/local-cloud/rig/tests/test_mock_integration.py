"""patches/mock_integration.py: a MOCK integration without IntegrationHttpMethod, and a
method's authorizer, timeout and responses kept as CloudFormation gives them."""
from rig.tests.support import CloudTest

TEMPLATE = """
Resources:
  Api:
    Type: AWS::ApiGateway::RestApi
    Properties: {Name: api}
  Ping:
    Type: AWS::ApiGateway::Resource
    Properties: {RestApiId: !Ref Api, ParentId: !GetAtt Api.RootResourceId, PathPart: ping}
  GetPing:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Api
      ResourceId: !Ref Ping
      HttpMethod: GET
      AuthorizationType: NONE
      Integration:
        Type: MOCK
        RequestTemplates: {application/json: '{"statusCode": 200}'}
        IntegrationResponses:
          - StatusCode: "204"
            ResponseParameters:
              method.response.header.Access-Control-Allow-Origin: "'https://site.example'"
      MethodResponses:
        - StatusCode: "204"
          ResponseParameters:
            method.response.header.Access-Control-Allow-Origin: true
  Auth:
    Type: AWS::ApiGateway::Authorizer
    Properties:
      RestApiId: !Ref Api
      Name: cognito
      Type: COGNITO_USER_POOLS
      IdentitySource: method.request.header.Authorization
      ProviderARNs: ["arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_x"]
  Guarded:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Api
      ResourceId: !Ref Ping
      HttpMethod: POST
      AuthorizationType: COGNITO_USER_POOLS
      AuthorizerId: !Ref Auth
      Integration:
        Type: AWS_PROXY
        IntegrationHttpMethod: POST
        TimeoutInMillis: 1500
        Uri: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:f/invocations
"""


class MockIntegration(CloudTest):
    def test_mock_integration_is_created(self):
        self.assertEqual(self.deploy("s", TEMPLATE)["StackStatus"], "CREATE_COMPLETE")
        ids = self.physical_ids("s")
        integration = self.client("apigateway").get_integration(
            restApiId=ids["Api"], resourceId=ids["Ping"], httpMethod="GET")
        self.assertEqual(integration["type"], "MOCK")
        answer = integration["integrationResponses"]["204"]["responseParameters"]
        self.assertEqual(answer, {"method.response.header.Access-Control-Allow-Origin":
                                  "'https://site.example'"})

    def test_a_method_keeps_its_authorizer_and_timeout(self):
        self.deploy("s", TEMPLATE)
        ids = self.physical_ids("s")
        gw = self.client("apigateway")
        method = gw.get_method(restApiId=ids["Api"], resourceId=ids["Ping"], httpMethod="POST")
        self.assertEqual(method["authorizerId"], ids["Auth"])
        self.assertEqual(str(method["methodIntegration"]["timeoutInMillis"]), "1500")
        get = gw.get_method(restApiId=ids["Api"], resourceId=ids["Ping"], httpMethod="GET")
        self.assertIn("204", get["methodResponses"])


PRIVATE = """
Parameters:
  Backend: {Type: String, Default: mock}
Conditions:
  IsPrivate: !Equals [!Ref Backend, private]
Resources:
  Api:
    Type: AWS::ApiGateway::RestApi
    Properties: {Name: api}
  Health:
    Type: AWS::ApiGateway::Resource
    Properties: {RestApiId: !Ref Api, ParentId: !GetAtt Api.RootResourceId, PathPart: health}
  GetHealth:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Api
      ResourceId: !Ref Health
      HttpMethod: GET
      AuthorizationType: NONE
      Integration: !If
        - IsPrivate
        - Type: HTTP_PROXY
          IntegrationHttpMethod: GET
          ConnectionType: VPC_LINK
          ConnectionId: link-1
          IntegrationTarget: arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/lb/1
          Uri: http://lb.internal/health
          RequestParameters:
            integration.request.header.X-Shipit-User: context.authorizer.claims.sub
        - Type: MOCK
          RequestTemplates: {application/json: '{"statusCode": 200}'}
Outputs:
  Api: {Value: !Ref Api}
  Health: {Value: !Ref Health}
"""


class PrivateIntegration(CloudTest):
    def integration(self):
        out = self.outputs("s")
        return self.client("apigateway").get_method(
            restApiId=out["Api"], resourceId=out["Health"], httpMethod="GET")["methodIntegration"]

    def test_a_changed_method_takes_its_new_integration_with_its_connection(self):
        self.deploy("s", PRIVATE)
        self.assertEqual(self.integration()["type"], "MOCK")
        self.deploy("s", PRIVATE, {"Backend": "private"}, kind="UPDATE")
        i = self.integration()
        self.assertEqual((i["type"], i["connectionType"], i["connectionId"]),
                         ("HTTP_PROXY", "VPC_LINK", "link-1"))
        self.assertTrue(i["integrationTarget"].endswith(":loadbalancer/app/lb/1"))
        self.assertEqual(i["requestParameters"],
                         {"integration.request.header.X-Shipit-User":
                          "context.authorizer.claims.sub"})
