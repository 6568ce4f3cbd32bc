"""patches/mock_integration.py: a MOCK integration without IntegrationHttpMethod."""
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
"""


class MockIntegration(CloudTest):
    def test_mock_integration_is_created(self):
        self.assertEqual(self.deploy("s", TEMPLATE)["StackStatus"], "CREATE_COMPLETE")
        ids = self.physical_ids("s")
        integration = self.client("apigateway").get_integration(
            restApiId=ids["Api"], resourceId=ids["Ping"], httpMethod="GET")
        self.assertEqual(integration["type"], "MOCK")
