"""patches/log_group_arn.py: a log group's Arn attribute ends with ":*", as CloudFormation's."""
from rig.tests.support import CloudTest

TEMPLATE = """
Resources:
  Logs:
    Type: AWS::Logs::LogGroup
    Properties: {RetentionInDays: 7}
Outputs:
  Arn: {Value: !GetAtt Logs.Arn}
  Name: {Value: !Ref Logs}
"""


class LogGroupArn(CloudTest):
    def test_the_arn_attribute_covers_the_groups_streams(self):
        self.deploy("s", TEMPLATE)
        out = self.outputs("s")
        self.assertEqual(out["Arn"],
                         f"arn:aws:logs:us-east-1:123456789012:log-group:{out['Name']}:*")
