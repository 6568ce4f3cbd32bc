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
