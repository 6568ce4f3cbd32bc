"""rig/function_identity.py: requests signed with a function's role credentials are judged as
IAM judges them (the role's policies and boundary, on the resource the request names), and a
function in private subnets reaches only the services its VPC has endpoints for."""
import json

from rig import function_identity as fi
from rig.tests.support import REGION, CloudTest, package

ACCOUNT = "123456789012"
TABLE = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/items"


def request(key, service, target=None, body=None, method="POST", path="/"):
    """A WSGI environ as botocore sends it (only what the rig reads: the signing scope)."""
    environ = {
        "HTTP_AUTHORIZATION": (f"AWS4-HMAC-SHA256 Credential={key}/20261129/{REGION}/{service}/"
                               "aws4_request, SignedHeaders=host;x-amz-date, Signature=0f"),
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": ""}
    if target:
        environ["HTTP_X_AMZ_TARGET"] = target
    data = json.dumps(body or {}).encode()
    return environ, lambda: data


class FunctionIdentity(CloudTest):
    def setUp(self):
        super().setUp()
        self.iam = self.client("iam")
        trust = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole"}]}
        self.role = self.iam.create_role(RoleName="fn-role",
                                         AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        self.iam.put_role_policy(RoleName="fn-role", PolicyName="data", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["dynamodb:GetItem"], "Resource": TABLE},
                {"Effect": "Allow", "Action": "dynamodb:Query", "Resource": f"{TABLE}/index/owner"},
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::app/*"},
                {"Effect": "Allow", "Resource": "*", "Action": [  # what Lambda needs in a VPC
                    "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces",
                    "ec2:DeleteNetworkInterface"]}]}))

    def function(self, vpc=None):
        spec = dict(FunctionName="fn", Runtime="python3.12", Role=self.role,
                    Handler="index.handler", Code={"ZipFile": package()})
        if vpc:
            spec["VpcConfig"] = vpc
        self.client("lambda").create_function(**spec)
        from moto.awslambda.models import lambda_backends
        from moto.core import DEFAULT_ACCOUNT_ID
        fn = lambda_backends[DEFAULT_ACCOUNT_ID][REGION].get_function("fn")
        return fi.credentials_for(fn)["AWS_ACCESS_KEY_ID"]

    def test_the_roles_policies_decide_on_the_resource_named(self):
        key = self.function()
        allowed = [
            request(key, "dynamodb", "DynamoDB_20120810.GetItem", {"TableName": "items"}),
            request(key, "dynamodb", "DynamoDB_20120810.Query",
                    {"TableName": "items", "IndexName": "owner"}),
            request(key, "s3", method="GET", path="/app/users/1.json"),
            # Not a function's key: shipit's own calls are not judged.
            request("AKIASHIPIT", "dynamodb", "DynamoDB_20120810.DeleteTable", {"TableName": "x"}),
        ]
        for environ, body in allowed:
            self.assertIsNone(fi.refusal(environ, body), environ)
        refused = [
            (request(key, "dynamodb", "DynamoDB_20120810.PutItem", {"TableName": "items"}),
             "dynamodb:PutItem on resource: " + TABLE),
            (request(key, "dynamodb", "DynamoDB_20120810.GetItem", {"TableName": "other"}),
             f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/other"),
            (request(key, "dynamodb", "DynamoDB_20120810.Query", {"TableName": "items"}),
             "dynamodb:Query on resource: " + TABLE + " "),
            (request(key, "secretsmanager", "secretsmanager.GetSecretValue", {"SecretId": "s"}),
             "secretsmanager:GetSecretValue"),
        ]
        for (environ, body), said in refused:
            status, headers, doc = fi.refusal(environ, body)
            self.assertEqual(status, "400 Bad Request")
            self.assertIn(("x-amzn-ErrorType", "AccessDeniedException"), headers)
            message = json.loads(doc)["message"]
            self.assertIn(said, message)
            self.assertIn(f"assumed-role/fn-role/fn is not authorized", message)
        environ, body = request(key, "s3", method="GET", path="/app/users/1.json")
        environ["QUERY_STRING"] = "versionId=3"
        self.assertIn(b"s3:GetObjectVersion on resource: arn:aws:s3:::app/users/1.json",
                      fi.refusal(environ, body)[2], "a version is another action")
        environ, body = request(key, "s3", method="POST", path="/app")
        environ["QUERY_STRING"] = "delete="
        self.assertIn(b"s3:DeleteObject on resource: arn:aws:s3:::app/*", fi.refusal(environ, body)[2])
        status, _, doc = fi.refusal(*request(key, "s3", method="GET", path="/app"))
        self.assertEqual(status, "403 Forbidden")
        self.assertIn(b"<Code>AccessDenied</Code>", doc)
        self.assertIn(b"s3:ListBucket on resource: arn:aws:s3:::app ", doc)

    def test_ssm_calls_are_judged_on_the_parameter_or_path_named(self):
        path = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/shipit/site"
        self.iam.put_role_policy(RoleName="fn-role", PolicyName="params", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["ssm:GetParameter", "ssm:GetParameters",
                                               "ssm:GetParametersByPath"],
                 "Resource": [path, f"{path}/*"]}]}))
        key = self.function()
        for body in ({"Name": "/shipit/site/API_TOKEN"}, {"Name": f"{path}/API_TOKEN"},
                     {"Name": "/shipit/site/API_TOKEN:3"}):
            self.assertIsNone(fi.refusal(*request(key, "ssm", "AmazonSSM.GetParameter", body)))
        self.assertIsNone(fi.refusal(*request(key, "ssm", "AmazonSSM.GetParametersByPath",
                                              {"Path": "/shipit/site"})))
        for target, body, said in [
            ("AmazonSSM.GetParameter", {"Name": "/shipit/other/API_TOKEN"},
             "ssm:GetParameter on resource: arn:aws:ssm:"),
            ("AmazonSSM.GetParametersByPath", {"Path": "/shipit"}, "ssm:GetParametersByPath"),
            ("AmazonSSM.PutParameter", {"Name": "/shipit/site/API_TOKEN"}, "ssm:PutParameter"),
            ("AmazonSSM.GetParameters", {"Names": ["/shipit/site/A", "/shipit/other/B"]},
             "parameter/shipit/other/B"),
        ]:
            refused = fi.refusal(*request(key, "ssm", target, body))
            self.assertIsNotNone(refused, body)
            self.assertIn(said, json.loads(refused[2])["message"])

    def test_lambda_calls_are_judged_on_the_function_and_qualifier_named(self):
        # The pre-traffic gate's policy (stack/shipit.yaml, PreTrafficGateRole) for function "api".
        api = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:api"
        self.iam.put_role_policy(RoleName="fn-role", PolicyName="gate", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": f"{api}:*"},
                {"Effect": "Deny", "Action": "lambda:InvokeFunction",
                 "Resource": [api, f"{api}:$LATEST"]},
                {"Effect": "Allow", "Action": ["lambda:GetAlias", "lambda:UpdateAlias"],
                 "Resource": [api, f"{api}:live"]}]}))
        key = self.function()

        def call(method, path, query=""):
            environ, body = request(key, "lambda", method=method, path="/2015-03-31/functions/" + path)
            environ["QUERY_STRING"] = query
            return fi.refusal(environ, body)

        for method, path, query in [
            ("POST", "api/invocations", "Qualifier=7"),
            ("POST", "api:7/invocations", ""),
            ("POST", f"{api}:7/invocations".replace(":", "%3A"), ""),
            ("GET", "api/aliases/live", ""),
            ("PUT", "api/aliases/live", ""),
        ]:
            self.assertIsNone(call(method, path, query), (method, path, query))
        for method, path, query, said in [
            ("POST", "api/invocations", "Qualifier=%24LATEST", f"lambda:InvokeFunction on resource: {api}:$LATEST "),
            ("POST", "api/invocations", "", f"lambda:InvokeFunction on resource: {api} "),
            ("POST", "payroll/invocations", "Qualifier=1", "function:payroll:1"),
            ("PUT", "payroll/aliases/live", "", "lambda:UpdateAlias on resource: arn:aws:lambda"),
            ("DELETE", "api/aliases/live", "", "lambda:Unknown"),
            ("PUT", "api/code", "", "lambda:Unknown"),
        ]:
            status, headers, doc = call(method, path, query)
            self.assertEqual(status, "403 Forbidden", path)
            self.assertIn(("x-amzn-ErrorType", "AccessDeniedException"), headers)
            self.assertIn(said, json.loads(doc)["Message"])

    def test_fresh_credentials_are_handed_out_again(self):
        from unittest import mock
        from moto.awslambda.models import lambda_backends
        from moto.core import DEFAULT_ACCOUNT_ID
        key = self.function()
        fn = lambda_backends[DEFAULT_ACCOUNT_ID][REGION].get_function("fn")
        self.assertEqual(fi.credentials_for(fn)["AWS_ACCESS_KEY_ID"], key, "one STS session")
        later = fi.time.monotonic() + fi.REUSE_SECONDS + 1
        with mock.patch.object(fi.time, "monotonic", return_value=later):
            self.assertNotEqual(fi.credentials_for(fn)["AWS_ACCESS_KEY_ID"], key, "then a new one")

    def test_an_explicit_deny_and_the_boundary_refuse(self):
        key = self.function()
        get = request(key, "dynamodb", "DynamoDB_20120810.GetItem", {"TableName": "items"})
        self.assertIsNone(fi.refusal(*get))
        boundary = self.iam.create_policy(PolicyName="b", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))["Policy"]["Arn"]
        self.iam.put_role_permissions_boundary(RoleName="fn-role", PermissionsBoundary=boundary)
        self.assertIn("no permissions boundary allows", json.loads(fi.refusal(*get)[2])["message"])
        self.iam.delete_role_permissions_boundary(RoleName="fn-role")
        self.iam.put_role_policy(RoleName="fn-role", PolicyName="deny", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [
                {"Effect": "Deny", "Action": "dynamodb:*", "Resource": "*"}]}))
        self.assertIsNotNone(fi.refusal(*get))

    def private_subnet(self, endpoints=(), nat=False):
        ec2 = self.client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
        table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
        if nat:
            public = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.2.0/24")["Subnet"]["SubnetId"]
            eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
            gateway = ec2.create_nat_gateway(SubnetId=public, AllocationId=eip)["NatGateway"]
            ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0",
                             NatGatewayId=gateway["NatGatewayId"])
        for service in endpoints:
            ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=f"com.amazonaws.{REGION}.{service}",
                                    RouteTableIds=[table])
        group = ec2.create_security_group(GroupName="fn", Description="fn", VpcId=vpc)["GroupId"]
        return {"SubnetIds": [subnet], "SecurityGroupIds": [group]}

    def test_a_private_subnet_reaches_only_its_endpoints_services(self):
        key = self.function(self.private_subnet(endpoints=["dynamodb"]))
        get = request(key, "dynamodb", "DynamoDB_20120810.GetItem", {"TableName": "items"})
        self.assertIsNone(fi.refusal(*get), "through the gateway endpoint")
        for service, target in (("secretsmanager", "secretsmanager.GetSecretValue"),
                                ("s3", None), ("sts", None)):
            self.assertEqual(fi.refusal(*request(key, service, target, method="GET",
                                                 path="/app/x")), "hold", service)

    def test_a_nat_gateway_reaches_every_service(self):
        key = self.function(self.private_subnet(nat=True))
        self.assertIsNone(fi.refusal(*request(key, "s3", method="GET", path="/app/x")))
