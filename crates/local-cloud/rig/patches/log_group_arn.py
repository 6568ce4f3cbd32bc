"""A log group's Arn attribute ends with ":*", as CloudFormation returns it.

On AWS: Fn::GetAtt LogGroup.Arn is `arn:aws:logs:REGION:ACCOUNT:log-group:NAME:*` (the
AWS::Logs::LogGroup reference's return values), so a policy whose Resource is that attribute
covers the group's log streams (logs:CreateLogStream and logs:PutLogEvents name
`...:log-group:NAME:log-stream:STREAM`).
In moto: the attribute is the ARN without the ":*", which covers no log stream, so an ECS
execution role written as on AWS could not write its task's logs here.
The patch: the Arn attribute gets the ":*"; the group's own ARN (DescribeLogGroups' logGroupArn)
is left as it is.
"""
from rig.moto_version import check


def apply():
    """Check the moto version, then patch it as above (rig.install() calls this once)."""
    check(__name__)
    from moto.logs.models import LogGroup

    original = LogGroup.get_cfn_attribute

    def get_cfn_attribute(self, attribute_name):
        if attribute_name == "Arn":
            return f"{self.arn}:*"
        return original(self, attribute_name)

    LogGroup.get_cfn_attribute = get_cfn_attribute
