"""patches/service_role_permissions.py: a stack changed with a service role gets only what the
role allows; a resource whose handler needs an action the role lacks is refused."""
import json
from pathlib import Path

from rig.tests.support import CloudTest

IAM = Path(__file__).resolve().parents[4] / "stack" / "iam"
ACCOUNT, STACK = "123456789012", "mysite"

TEMPLATE = """Resources:
  Logs:
    Type: AWS::Logs::LogGroup
    Properties: {RetentionInDays: 30}
  Site:
    Type: AWS::S3::Bucket
"""


def policy(name):
    text = (IAM / name).read_text()
    for k, v in {"REGION": "us-east-1", "ACCOUNT_ID": ACCOUNT, "STACK_NAME": STACK,
                 "HOSTED_ZONE_ID": "Z0123456789ABCDEFGHIJ", "DB_USER": "shipit_app"}.items():
        text = text.replace(k, v)
    return text


class ServiceRole(CloudTest):
    def role(self, name, files):
        iam = self.client("iam")
        trust = policy("cloudformation-service-role-trust.json")
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        for f in files:
            iam.put_role_policy(RoleName=name, PolicyName=f, PolicyDocument=policy(f))
        return arn

    def create(self, stack, role_arn):
        made = self.cfn.create_change_set(StackName=stack, ChangeSetName=f"c-{stack}",
                                          ChangeSetType="CREATE", TemplateBody=TEMPLATE,
                                          RoleARN=role_arn)
        self.cfn.execute_change_set(StackName=stack, ChangeSetName=made["Id"])
        return self.stack(stack)["StackStatus"]

    def test_the_service_role_builds_the_stack_and_a_role_without_logs_cannot(self):
        files = ["cloudformation-service-role.json", "cloudformation-service-role-api.json",
                 "cloudformation-service-role-data.json"]
        full = self.role(f"{STACK}-cloudformation", files)
        self.assertEqual(self.create(f"{STACK}-web", full), "CREATE_COMPLETE")
        # The policy that holds the log groups' actions left out: the log group is refused.
        partial = self.role(f"{STACK}-cloudformation-partial", files[:1])
        self.assertEqual(self.create(f"{STACK}-other", partial), "ROLLBACK_COMPLETE")
        events = self.cfn.describe_stack_events(StackName=f"{STACK}-other")["StackEvents"]
        reasons = " ".join(e.get("ResourceStatusReason") or "" for e in events)
        self.assertRegex(reasons, r"mysite-cloudformation-partial is not authorized to perform: [^(]*"
                                  r"logs:CreateLogGroup[^(]*\(AWS::Logs::LogGroup create handler\)")
        failed = [e for e in events if e.get("ResourceStatus") == "CREATE_FAILED"]
        self.assertEqual([e["LogicalResourceId"] for e in failed], ["Logs"])
        # Without a service role, the caller's own rights apply (not evaluated here).
        self.assertEqual(self.deploy("plain", TEMPLATE)["StackStatus"], "CREATE_COMPLETE")

    def test_what_a_type_needs_leaves_the_refused_out(self):
        from rig.patches.service_role_permissions import missing, needed
        logs = needed("AWS::Logs::LogGroup", "create")
        self.assertIn("logs:CreateLogGroup", logs)
        self.assertFalse(any(a.startswith("kms:") for a in logs), logs)
        doc = json.loads(policy("cloudformation-service-role-api.json"))
        self.assertEqual(missing([("api", doc)], logs), [])
        self.assertEqual(missing([], ["logs:CreateLogGroup"]), ["logs:CreateLogGroup"])
        self.assertEqual(needed("AWS::Unknown::Thing", "create"), [])
    def test_the_whole_template_is_built_by_the_service_role(self):
        # Every type of stack/shipit.yaml, the API and data tier included: the role has every
        # handler permission the data file does not refuse (judged by action, as the patch does).
        files = ["cloudformation-service-role.json", "cloudformation-service-role-api.json",
                 "cloudformation-service-role-data.json"]
        role = self.role(f"{STACK}-cloudformation", files)
        # `shipit bootstrap`'s account-wide setting, which the stage's logging needs.
        self.client("apigateway").update_account(patchOperations=[
            {"op": "replace", "path": "/cloudwatchRoleArn", "value": f"arn:aws:iam::{ACCOUNT}:role/logs"}])
        body = (IAM.parent / "shipit.yaml").read_text()
        made = self.cfn.create_change_set(StackName=STACK, ChangeSetName="whole", ChangeSetType="CREATE",
                                          **self.template_source(body), RoleARN=role,
                                          Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
                                          Parameters=[{"ParameterKey": "EnableWaf", "ParameterValue": "true"}])
        self.cfn.execute_change_set(StackName=STACK, ChangeSetName=made["Id"])
        stack = self.stack(STACK)
        events = self.cfn.describe_stack_events(StackName=STACK)["StackEvents"]
        self.assertEqual(stack["StackStatus"], "CREATE_COMPLETE",
                         [e.get("ResourceStatusReason") for e in events if "FAILED" in e["ResourceStatus"]])
