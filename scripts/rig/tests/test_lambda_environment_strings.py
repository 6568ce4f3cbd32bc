"""patches/lambda_environment_strings.py: a number CloudFormation resolved into a function's
environment reads back as a string, as Lambda answers it."""
from rig.tests.support import CloudTest

TEMPLATE = """
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: fn
      Runtime: python3.12
      Handler: index.handler
      Role: !GetAtt Role.Arn
      Environment: {Variables: {PORT: 5432, ENABLED: true, NAME: db}}
      Code: {ZipFile: "def handler(e, c): return 1"}
"""


class EnvironmentStrings(CloudTest):
    def test_every_value_is_a_string(self):
        self.deploy("s", TEMPLATE)
        lam = self.client("lambda")
        want = {"PORT": "5432", "ENABLED": "true", "NAME": "db"}
        self.assertEqual(lam.get_function_configuration(FunctionName="fn")["Environment"]["Variables"], want)
        self.assertEqual(lam.publish_version(FunctionName="fn")["Environment"]["Variables"], want)
