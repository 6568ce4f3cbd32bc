"""What the rig's tests share: the rig installed, and stacks driven through change sets as shipit
drives them, in moto's mock_aws (in-process: no server, no port).

SHIPIT_RIG_WITHOUT (comma-separated: "models" or patch names, as `crates/local-cloud/rig/test --without`
sets it) leaves those parts out, so a patch's test shows what moto does without it.
"""
import itertools
import json
import os
import unittest

import boto3
from moto import mock_aws

import rig

WITHOUT = tuple(name for name in os.environ.get("SHIPIT_RIG_WITHOUT", "").split(",") if name)
rig.install(without=WITHOUT)

REGION = "us-east-1"


def package(source="def handler(e, c): return 1\n"):
    """A function's zip deployment package: `source` as index.py."""
    import io
    import zipfile
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("index.py", source)
    return out.getvalue()


def function_resources(extra="", role="Role", fn="Fn"):
    """Template resources for a Python function `fn` with an execution role `role` Lambda may
    assume; `extra` is more of the function's properties (indented as its other properties)."""
    return f"""  {role}:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement: [{{Effect: Allow, Principal: {{Service: lambda.amazonaws.com}}, Action: sts:AssumeRole}}]
  {fn}:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      Role: !GetAtt {role}.Arn
      Code: {{ZipFile: "def handler(e, c): return 1"}}
{extra}"""
_names = itertools.count(1)


class CloudTest(unittest.TestCase):
    """A test with every moto backend fresh (mock_aws), and helpers for stacks."""

    def setUp(self):
        self.mock = mock_aws()
        self.mock.start()
        self.addCleanup(self.mock.stop)
        self.cfn = self.client("cloudformation")

    def client(self, service):
        return boto3.client(service, region_name=REGION)

    def change_set(self, stack, template, params=None, kind="CREATE"):
        """Create a change set (template: YAML text or a dict) and return its description."""
        name = f"cs-{next(_names)}"
        self.cfn.create_change_set(
            StackName=stack, ChangeSetName=name, ChangeSetType=kind,
            **self.template_source(template if isinstance(template, str) else json.dumps(template)),
            Parameters=[{"ParameterKey": k, "ParameterValue": v}
                        for k, v in (params or {}).items()],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"])
        return self.cfn.describe_change_set(StackName=stack, ChangeSetName=name)

    def template_source(self, body):
        """CreateChangeSet's template argument for `body`: inline when CloudFormation takes it
        so (51,200 bytes at most), else staged in a bucket and named by URL, as shipit does."""
        from rig.patches.template_size import LIMIT
        if len(body.encode("utf-8")) <= LIMIT:
            return {"TemplateBody": body}
        s3 = self.client("s3")
        s3.create_bucket(Bucket="rig-templates")
        key = f"templates/{abs(hash(body))}.yaml"
        s3.put_object(Bucket="rig-templates", Key=key, Body=body.encode("utf-8"))
        return {"TemplateURL": f"https://rig-templates.s3.{REGION}.amazonaws.com/{key}"}

    def deploy(self, stack, template, params=None, kind="CREATE"):
        """Create and execute a change set; return the stack's description."""
        change_set = self.change_set(stack, template, params, kind)
        self.cfn.execute_change_set(StackName=stack, ChangeSetName=change_set["ChangeSetId"])
        return self.stack(stack)

    def stack(self, stack):
        return self.cfn.describe_stacks(StackName=stack)["Stacks"][0]

    def outputs(self, stack):
        return {o["OutputKey"]: o.get("OutputValue") for o in self.stack(stack).get("Outputs", [])}

    def physical_ids(self, stack):
        """Logical id -> physical id of the stack's resources (moto also lists an empty entry
        for each resource whose Condition is false: skipped)."""
        return {r["LogicalResourceId"]: r.get("PhysicalResourceId")
                for r in self.cfn.describe_stack_resources(StackName=stack)["StackResources"]
                if r.get("LogicalResourceId")}
