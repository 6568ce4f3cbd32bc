"""patches/api_deployment.py and models' GatewayResponse: the stage moves to a renamed
deployment, the old one is deleted, and gateway responses exist in the API."""
from rig.tests.support import CloudTest

TEMPLATE = """
Resources:
  Api:
    Type: AWS::ApiGateway::RestApi
    Properties: {Name: a}
  Health:
    Type: AWS::ApiGateway::Resource
    Properties: {RestApiId: !Ref Api, ParentId: !GetAtt Api.RootResourceId, PathPart: health}
  HealthGet:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Api
      ResourceId: !Ref Health
      HttpMethod: GET
      AuthorizationType: NONE
      Integration: {Type: MOCK}
  Cors4xx:
    Type: AWS::ApiGateway::GatewayResponse
    Properties:
      RestApiId: !Ref Api
      ResponseType: DEFAULT_4XX
      ResponseParameters:
        gatewayresponse.header.Access-Control-Allow-Origin: "'https://site.example'"
  Snapshot:
    Type: AWS::ApiGateway::Deployment
    DependsOn: [HealthGet, Cors4xx]
    Properties: {RestApiId: !Ref Api}
  Stage:
    Type: AWS::ApiGateway::Stage
    Properties: {RestApiId: !Ref Api, DeploymentId: !Ref Snapshot, StageName: live}
Outputs:
  ApiId: {Value: !Ref Api}
"""


class ApiDeployment(CloudTest):
    def test_the_stage_moves_to_a_renamed_deployment_and_the_old_one_goes(self):
        self.deploy("s", TEMPLATE)
        api = self.outputs("s")["ApiId"]
        gw = self.client("apigateway")
        first = gw.get_stage(restApiId=api, stageName="live")["deploymentId"]
        self.assertIsInstance(first, str)
        self.deploy("s", TEMPLATE.replace("Snapshot", "Snapshot2"), kind="UPDATE")
        second = gw.get_stage(restApiId=api, stageName="live")["deploymentId"]
        self.assertNotEqual(first, second)
        ids = [d["id"] for d in gw.get_deployments(restApiId=api)["items"]]
        self.assertEqual(ids, [second])

    def test_gateway_responses_are_made(self):
        self.deploy("s", TEMPLATE)
        api = self.outputs("s")["ApiId"]
        r = self.client("apigateway").get_gateway_response(
            restApiId=api, responseType="DEFAULT_4XX")
        self.assertEqual(r["responseParameters"],
                         {"gatewayresponse.header.Access-Control-Allow-Origin": "'https://site.example'"})
