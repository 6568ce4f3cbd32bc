"""patches/lambda_role_permissions.py: Lambda refuses an execution role that cannot trace (X-Ray)
or make the function's network interfaces (VPC), through its API and through CloudFormation."""
import io
import json
import zipfile

from botocore.exceptions import ClientError

from rig import iam
from rig.tests.support import CloudTest

TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
    "Action": "sts:AssumeRole"}]}
BASIC = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
VPC_ACCESS = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
XRAY_WRITE = "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess"
XRAY_REFUSED = "The provided execution role does not have permissions to call PutTraceSegments on XRAY"
ENI_REFUSED = "The provided execution role does not have permissions to call CreateNetworkInterface on EC2"
ACTIVE = {"TracingConfig": {"Mode": "Active"}}
IN_VPC = {"VpcConfig": {"SubnetIds": ["subnet-0a1b2c3d"], "SecurityGroupIds": ["sg-0a1b2c3d"]}}


def policy(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action, resource="*"):
    return {"Effect": "Allow", "Action": action, "Resource": resource}


def deny(action, resource="*"):
    return {"Effect": "Deny", "Action": action, "Resource": resource}


def code():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("index.py", "def handler(event, context):\n    return 1\n")
    return out.getvalue()


class LambdaRolePermissions(CloudTest):
    def setUp(self):
        super().setUp()
        self.iam = self.client("iam")
        self.lam = self.client("lambda")
        self.names = 0

    def role(self, managed=(BASIC,), **inline):
        """A Lambda execution role with these managed policies and inline policies (name=doc)."""
        self.names += 1
        name = f"role-{self.names}"
        arn = self.iam.create_role(RoleName=name,
                                   AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
        for arn_ in managed:
            self.iam.attach_role_policy(RoleName=name, PolicyArn=arn_)
        for policy_name, doc in inline.items():
            self.iam.put_role_policy(RoleName=name, PolicyName=policy_name,
                                     PolicyDocument=json.dumps(doc))
        return arn

    def create(self, role, **config):
        self.names += 1
        return self.lam.create_function(
            FunctionName=f"fn-{self.names}", Runtime="python3.12", Handler="index.handler",
            Role=role, Code={"ZipFile": code()}, **config)

    def refusal(self, role, **config):
        """The InvalidParameterValueException message CreateFunction answers with."""
        with self.assertRaises(ClientError) as caught:
            self.create(role, **config)
        error = caught.exception.response["Error"]
        self.assertEqual(error["Code"], "InvalidParameterValueException")
        return error["Message"]

    def test_active_tracing_needs_xray(self):
        self.assertEqual(self.refusal(self.role(), **ACTIVE), XRAY_REFUSED)
        self.assertEqual(self.lam.list_functions()["Functions"], [])

    def test_inline_xray_policy_is_enough(self):
        exact = self.role(xray=policy(allow(["xray:PutTraceSegments", "xray:PutTelemetryRecords"])))
        fn = self.create(exact, **ACTIVE)
        self.assertEqual(fn["TracingConfig"], {"Mode": "Active"})
        self.create(self.role(xray=policy(allow("XRay:Put*"))), **ACTIVE)
        self.create(self.role(managed=(), admin=policy(allow("*"))), **ACTIVE)

    def test_xray_managed_policy_is_enough(self):
        self.create(self.role(managed=(BASIC, XRAY_WRITE)), **ACTIVE)

    def test_only_statements_on_every_resource_count(self):
        scoped = policy(allow("xray:*", "arn:aws:xray:us-east-1:123456789012:group/*"))
        self.assertEqual(self.refusal(self.role(xray=scoped), **ACTIVE), XRAY_REFUSED)

    def test_both_xray_actions_are_needed(self):
        half = self.role(xray=policy(allow("xray:PutTraceSegments")))
        self.assertEqual(self.refusal(half, **ACTIVE), XRAY_REFUSED.replace(
            "PutTraceSegments", "PutTelemetryRecords"))

    def test_vpc_needs_network_interface_permissions(self):
        self.assertEqual(self.refusal(self.role(), **IN_VPC), ENI_REFUSED)

    def test_vpc_access_managed_policy_is_enough(self):
        fn = self.create(self.role(managed=(VPC_ACCESS,)), **IN_VPC)
        self.assertEqual(fn["VpcConfig"]["SubnetIds"], ["subnet-0a1b2c3d"])

    def test_vpc_without_subnets_needs_nothing(self):
        self.create(self.role(), VpcConfig={"SubnetIds": [], "SecurityGroupIds": []})

    def test_explicit_deny_wins(self):
        role = self.role(xray=policy(allow("xray:*")), guard=policy(deny("xray:PutTraceSegments")))
        self.assertEqual(self.refusal(role, **ACTIVE), XRAY_REFUSED)
        not_action = self.role(managed=(VPC_ACCESS,),
                               guard=policy({"Effect": "Deny", "NotAction": "logs:*", "Resource": "*"}))
        self.assertEqual(self.refusal(not_action, **IN_VPC), ENI_REFUSED)

    def test_pass_through_needs_nothing(self):
        bare = self.role(managed=())
        self.create(bare, TracingConfig={"Mode": "PassThrough"})
        self.assertEqual(self.create(bare)["TracingConfig"], {"Mode": "PassThrough"})

    def test_update_function_configuration(self):
        role = self.role()
        name = self.create(role)["FunctionName"]
        with self.assertRaises(ClientError) as caught:
            self.lam.update_function_configuration(FunctionName=name, **ACTIVE)
        self.assertEqual(caught.exception.response["Error"]["Message"], XRAY_REFUSED)
        self.iam.attach_role_policy(RoleName=role.split("/")[-1], PolicyArn=XRAY_WRITE)
        self.lam.update_function_configuration(FunctionName=name, **ACTIVE)
        config = self.lam.get_function_configuration(FunctionName=name)
        self.assertEqual(config["TracingConfig"], {"Mode": "Active"})
        # The traced function's role is judged again when it changes.
        with self.assertRaises(ClientError) as caught:
            self.lam.update_function_configuration(FunctionName=name, Role=self.role())
        self.assertEqual(caught.exception.response["Error"]["Message"], XRAY_REFUSED)

    def test_permissions_boundary_limits_the_role(self):
        def boundary(name, *statements):
            return self.iam.create_policy(PolicyName=name,
                                          PolicyDocument=json.dumps(policy(*statements)))["Policy"]["Arn"]

        logs_only = boundary("logs-only", allow("logs:*"))
        with_xray = boundary("with-xray", allow(["logs:*", "xray:Put*"]))
        for arn, refused in ((logs_only, True), (with_xray, False)):
            self.names += 1
            name = f"bounded-{self.names}"
            role = self.iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST),
                                        PermissionsBoundary=arn)["Role"]["Arn"]
            self.iam.put_role_policy(RoleName=name, PolicyName="admin",
                                     PolicyDocument=json.dumps(policy(allow("*"))))
            if refused:
                self.assertEqual(self.refusal(role, **ACTIVE), XRAY_REFUSED)
            else:
                self.create(role, **ACTIVE)

    def test_unknown_role_is_left_to_moto(self):
        message = self.refusal("arn:aws:iam::123456789012:role/nobody", **ACTIVE)
        self.assertEqual(message, "The role defined for the function cannot be assumed by Lambda.")

    def test_conditions_are_not_guessed(self):
        decide = iam.decide
        action = "xray:PutTraceSegments"
        conditional = policy({**allow("xray:*"),
                              "Condition": {"StringEquals": {"aws:RequestedRegion": "us-east-1"}}})
        conditional_deny = policy(allow("xray:*"), {
            **deny("xray:*"), "Condition": {"Bool": {"aws:ViaAWSService": "false"}}})
        for doc in (conditional, conditional_deny):
            with self.assertRaises(iam.CannotEvaluate):
                decide([("p", doc)], action)
        # A Condition that cannot change the answer is no obstacle.
        self.assertEqual(decide([("p", conditional), ("q", policy(allow("xray:*")))], action), "allow")
        self.assertEqual(decide([("p", conditional), ("q", policy(deny("*")))], action), "deny")
        unrelated = policy({**allow("s3:GetObject"),
                            "Condition": {"Bool": {"aws:SecureTransport": "true"}}}, allow("xray:*"))
        self.assertEqual(decide([("p", json.dumps(unrelated))], "xray:PutTelemetryRecords"), "allow")


STACK = """
Conditions:
  Never: !Equals ["a", "b"]
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - {Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}
      ManagedPolicyArns: [MANAGED]
      Policies:
        - PolicyName: data
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - {Effect: Allow, Action: "s3:GetObject", Resource: "*"}
              - !If [Never, {Effect: Allow, Action: "*", Resource: "*"}, !Ref AWS::NoValue]
  Function:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      Role: !GetAtt Role.Arn
      TracingConfig: {Mode: MODE}
      Code: {S3Bucket: code, S3Key: fn.zip}
"""


def stack(managed=BASIC, mode="Active"):
    return STACK.replace("MANAGED", managed).replace("MODE", mode)


class LambdaRolePermissionsInCloudFormation(CloudTest):
    # The code is in S3: moto cannot update a function whose template gives Code.ZipFile.
    def setUp(self):
        super().setUp()
        s3 = self.client("s3")
        s3.create_bucket(Bucket="code")
        s3.put_object(Bucket="code", Key="fn.zip", Body=code())

    def failures(self, stack_name):
        return [(e["LogicalResourceId"], e.get("ResourceStatusReason", ""))
                for e in self.cfn.describe_stack_events(StackName=stack_name)["StackEvents"]
                if e["ResourceStatus"] in ("CREATE_FAILED", "UPDATE_FAILED")]

    def function(self, stack_name):
        name = self.physical_ids(stack_name)["Function"]
        return self.client("lambda").get_function_configuration(FunctionName=name)

    def test_role_without_xray_fails_the_stack(self):
        self.assertEqual(self.deploy("s", stack())["StackStatus"], "ROLLBACK_COMPLETE")
        self.assertEqual(self.failures("s"), [("Function", XRAY_REFUSED)])
        self.assertEqual(self.client("lambda").list_functions()["Functions"], [])
        self.assertEqual(self.client("iam").list_roles()["Roles"], [])

    def test_role_with_xray_managed_policy_deploys(self):
        self.assertEqual(self.deploy("s", stack(managed=XRAY_WRITE))["StackStatus"], "CREATE_COMPLETE")
        self.assertEqual(self.function("s")["TracingConfig"], {"Mode": "Active"})
        role = self.physical_ids("s")["Role"]
        attached = self.client("iam").list_attached_role_policies(RoleName=role)["AttachedPolicies"]
        self.assertEqual([p["PolicyArn"] for p in attached], [XRAY_WRITE])
        self.cfn.delete_stack(StackName="s")
        self.assertEqual(self.client("iam").list_roles()["Roles"], [])

    def test_update_turning_tracing_on_fails_without_xray(self):
        self.deploy("s", stack(mode="PassThrough"))
        status = self.deploy("s", stack(), kind="UPDATE")["StackStatus"]
        self.assertEqual(status, "UPDATE_ROLLBACK_COMPLETE")
        # (patches/rollback.py names the stack, not the resource, when an update fails)
        self.assertIn(XRAY_REFUSED, [reason for _, reason in self.failures("s")])

    def test_update_granting_xray_with_tracing_deploys(self):
        self.deploy("s", stack(mode="PassThrough"))
        with_xray = stack().replace('"s3:GetObject"', '["s3:GetObject", "xray:PutTraceSegments", '
                                                      '"xray:PutTelemetryRecords"]')
        self.assertEqual(self.deploy("s", with_xray, kind="UPDATE")["StackStatus"], "UPDATE_COMPLETE")
        self.assertEqual(self.function("s")["TracingConfig"], {"Mode": "Active"})
