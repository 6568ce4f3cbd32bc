"""stack/handler-permissions.json against stack/shipit.yaml and the CloudFormation service role.

Every resource type of the template has its handlers' required permissions on record (copied
from the type's registry schema), and for each of them the service role either allows it on a
resource of this stack, or the test names it in REFUSED with the reason it is refused. A handler
lists every permission it may need for any property, so REFUSED holds two kinds: what must never
be granted (reading, erasing or sharing data), and what only a property shipit's template does
not set would need (the reason says which; setting that property means granting it, here and in
stack/iam/). Judged with the evaluator of test_iam_policies. Stdlib only.
"""
import fnmatch
import json
import re
import unittest
from pathlib import Path

from rig.tests.test_iam_policies import (
    ACCOUNT, ALLOW, APP_DATA, BOUNDARY, DISTRIBUTION, FUNCTION, FUNCTION_ROLE, MANAGED, OURS, PACKAGE,
    REGION, SECRET, SITE, STACK, TABLE, decide, load)

ROOT = Path(__file__).resolve().parents[4]
TEMPLATE = ROOT / "stack" / "shipit.yaml"
DATA = ROOT / "stack" / "handler-permissions.json"
SERVICE_ROLE_FILES = ("cloudformation-service-role.json", "cloudformation-service-role-api.json",
                      "cloudformation-service-role-data.json")
HANDLERS = ("create", "read", "update", "delete")

# (resource type or *, action pattern) -> why the service role does not have it; kept with the
# data (stack/handler-permissions.json, "refused"), which the rig reads too.
_DATA = json.loads(DATA.read_text())
REFUSED = {(r["type"], r["pattern"]): r["why"] for r in _DATA["refused"]}
GRANTED_DESPITE_PATTERN = set(_DATA["granted_despite_pattern"])


def template_types():
    return set(re.findall(r"^\s+Type:\s*(AWS::[A-Za-z0-9:]+)\s*$", TEMPLATE.read_text(), re.MULTILINE))


def refusal(rtype, action):
    if action in GRANTED_DESPITE_PATTERN:
        return None
    for (t, pattern), why in REFUSED.items():
        if t in ("*", rtype) and fnmatch.fnmatchcase(action.lower(), pattern.lower()):
            return why
    return None


ARN = f"arn:aws:{{}}:{REGION}:{ACCOUNT}:{{}}"
APIGW = f"arn:aws:apigateway:{REGION}::"
REST = APIGW + "/restapis/a1b2c3d4e5"
DOMAIN = APIGW + "/domainnames/api.example.com"
EC2 = {  # the resource each EC2 type's handler writes
    "AWS::EC2::VPC": "vpc/vpc-0a1b2c3d", "AWS::EC2::InternetGateway": "internet-gateway/igw-0a1b",
    "AWS::EC2::VPCGatewayAttachment": "internet-gateway/igw-0a1b", "AWS::EC2::Subnet": "subnet/subnet-0a1b",
    "AWS::EC2::RouteTable": "route-table/rtb-0a1b", "AWS::EC2::Route": "route-table/rtb-0a1b",
    "AWS::EC2::SubnetRouteTableAssociation": "route-table/rtb-0a1b", "AWS::EC2::EIP": "elastic-ip/eipalloc-0a1b",
    "AWS::EC2::NatGateway": "natgateway/nat-0a1b", "AWS::EC2::VPCEndpoint": "vpc-endpoint/vpce-0a1b",
    "AWS::EC2::SecurityGroup": "security-group/sg-0a1b", "AWS::EC2::SecurityGroupIngress": "security-group/sg-0a1b",
    "AWS::EC2::SecurityGroupEgress": "security-group/sg-0a1b",
}
EC2_CREATE = {"AWS::EC2::VPC": "CreateVpc", "AWS::EC2::InternetGateway": "CreateInternetGateway",
              "AWS::EC2::Subnet": "CreateSubnet", "AWS::EC2::RouteTable": "CreateRouteTable",
              "AWS::EC2::EIP": "AllocateAddress", "AWS::EC2::NatGateway": "CreateNatGateway",
              "AWS::EC2::VPCEndpoint": "CreateVpcEndpoint", "AWS::EC2::SecurityGroup": "CreateSecurityGroup"}
NEW = {"aws:RequestTag/aws:cloudformation:stack-name": STACK}
PASSED_TO = {"AWS::Lambda::Function": "lambda.amazonaws.com", "AWS::ApiGateway::Account": "apigateway.amazonaws.com",
             "AWS::ECS::TaskDefinition": "ecs-tasks.amazonaws.com"}
SERVICE_LINKED = {"AWS::RDS::DBInstance": "rds.amazonaws.com", "AWS::RDS::DBSubnetGroup": "rds.amazonaws.com",
                  "AWS::ElastiCache::ReplicationGroup": "elasticache.amazonaws.com",
                  "AWS::ECS::Cluster": "ecs.amazonaws.com", "AWS::ApiGatewayV2::VpcLink": "ops.apigateway.amazonaws.com"}
CLUSTER = f"cluster/{STACK}-Cluster-x"
ECS = {"AWS::ECS::Cluster": CLUSTER, "AWS::ECS::Service": f"service/{STACK}-Cluster-x/{STACK}-Service-x",
       "AWS::ECS::TaskDefinition": f"task-definition/{STACK}-api:1"}
ELB = {"AWS::ElasticLoadBalancingV2::LoadBalancer": "loadbalancer/app/mysite-LoadB-x/1a2b",
       "AWS::ElasticLoadBalancingV2::TargetGroup": "targetgroup/mysite-Targe-x/1a2b",
       "AWS::ElasticLoadBalancingV2::Listener": "listener/app/mysite-LoadB-x/1a2b/3c4d"}


def request(rtype, action):
    """A representative (resource ARN, request context) for one handler permission on this stack."""
    service, name = action.split(":", 1)
    service = service.lower()
    if service == "iam":
        if name == "PassRole":
            return FUNCTION_ROLE, {"iam:PassedToService": PASSED_TO.get(rtype, "unknown.amazonaws.com")}
        if name == "CreateServiceLinkedRole":
            return (f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/x",
                    {"iam:AWSServiceName": SERVICE_LINKED.get(rtype, "unknown.amazonaws.com")})
        return FUNCTION_ROLE, {"iam:PermissionsBoundary": BOUNDARY,
                               "iam:PolicyARN": MANAGED + "AWSLambdaBasicExecutionRole"}
    if service == "apigateway" and rtype == "AWS::ApiGatewayV2::VpcLink":
        return (APIGW + "/vpclinks", NEW) if name == "POST" else (APIGW + "/vpclinks/x", OURS)
    if service == "ecs":
        return ("*", NEW) if name == "CreateCluster" else (ARN.format("ecs", ECS[rtype]), {})
    if service == "elasticloadbalancing" and rtype in ELB:
        created = {"AWS::ElasticLoadBalancingV2::LoadBalancer": "CreateLoadBalancer",
                   "AWS::ElasticLoadBalancingV2::TargetGroup": "CreateTargetGroup",
                   "AWS::ElasticLoadBalancingV2::Listener": "CreateListener"}[rtype]
        if name == created:
            return "*", NEW
        if name == "AddTags":
            return ARN.format("elasticloadbalancing", ELB[rtype]), {"elasticloadbalancing:CreateAction": created}
        return ARN.format("elasticloadbalancing", ELB[rtype]), OURS
    if service == "apigateway":
        if rtype == "AWS::ApiGateway::Account":
            return APIGW + "/account", {}
        if rtype in ("AWS::ApiGateway::DomainName", "AWS::ApiGateway::BasePathMapping"):
            if name == "POST" and rtype == "AWS::ApiGateway::DomainName":
                return APIGW + "/domainnames", NEW
            return DOMAIN + ("/basepathmappings/(none)" if "BasePath" in rtype else ""), OURS
        if name == "POST" and rtype == "AWS::ApiGateway::RestApi":
            return APIGW + "/restapis", NEW
        sub = {"AWS::ApiGateway::RestApi": ""}.get(rtype, "/" + rtype.rsplit("::", 1)[1].lower() + "s/x")
        return REST + sub, OURS  # children inherit the REST API's tags (API Gateway developer guide)
    if service == "s3":
        if rtype == "AWS::Lambda::Function":
            return PACKAGE, {}
        return (SITE + "/k" if "Object" in name else SITE), {}
    if service == "ec2" and rtype not in EC2:
        return ARN.format("ec2", "verified-access-instance/vai-0a1b"), {}
    if service == "ec2":
        if name.startswith("Describe"):
            return "*", {}
        if name in ("DisassociateRouteTable", "DisassociateAddress", "ReleaseAddress"):
            return ARN.format("ec2", EC2[rtype]), {}
        if name == "CreateTags" and rtype in EC2_CREATE:
            return ARN.format("ec2", EC2[rtype]), {"ec2:CreateAction": EC2_CREATE[rtype]}
        if name.startswith(("Create", "Allocate")) and name not in ("CreateRoute", "CreateTags"):
            return ARN.format("ec2", EC2[rtype]), NEW
        return ARN.format("ec2", EC2[rtype]), OURS
    if service == "lambda":
        if name == "GetCodeSigningConfig":
            return ARN.format("lambda", "code-signing-config:csc-0a1b2c3d"), {}
        if name == "GetLayerVersion":
            return ARN.format("lambda", "layer:shared:1"), {}
        return {"AWS::Lambda::Alias": FUNCTION + ":live", "AWS::Lambda::Version": FUNCTION + ":1"}.get(
            rtype, FUNCTION), {"lambda:Principal": "apigateway.amazonaws.com"}
    if service == "cloudfront":
        kind = {"AWS::CloudFront::CachePolicy": "cache-policy/658327ea", "AWS::CloudFront::Function": f"function/{STACK}-routing",
                "AWS::CloudFront::OriginAccessControl": "origin-access-control/E1OAC",
                "AWS::CloudFront::ResponseHeadersPolicy": "response-headers-policy/67f7725c"}.get(rtype)
        return (f"arn:aws:cloudfront::{ACCOUNT}:{kind}" if kind else DISTRIBUTION), {}
    if service == "cognito-idp":
        return ("*" if name == "CreateUserPool" else ARN.format("cognito-idp", "userpool/eu-west-1_AbCdEf")), {}
    if service == "dynamodb":
        return TABLE, {}
    if service == "logs":
        return ARN.format("logs", f"log-group:{STACK}-ApiFunctionLogs-x"), {}
    if service == "rds":
        kind = "subgrp:mysite-databasesubnets-x" if "SubnetGroup" in rtype else "db:mysite-database-x"
        return ARN.format("rds", kind), {}
    if service == "elasticache":
        kind = "subnetgroup:mysite-cachesubnets-x" if "SubnetGroup" in rtype else "replicationgroup:mysite-cache-x"
        return ARN.format("elasticache", kind), {}
    if service == "secretsmanager":
        return ("*" if name == "GetRandomPassword" else SECRET), OURS
    if service == "kms":
        return "*", {}
    if service == "wafv2":
        if rtype == "AWS::WAFv2::WebACLAssociation" and name in ("AssociateWebACL", "DisassociateWebACL", "GetWebACLForResource"):
            return REST + "/stages/live", {}
        return ARN.format("wafv2", f"regional/webacl/{STACK}-api/1a2b3c"), {}
    return ARN.format(service, "x"), {}


def data():
    return json.loads(DATA.read_text())


class HandlerPermissions(unittest.TestCase):
    def setUp(self):
        self.types = data()["types"]
        self.policies = [load(name) for name in SERVICE_ROLE_FILES]

    def test_every_type_in_the_template_has_an_entry(self):
        missing = template_types() - set(self.types)
        self.assertFalse(missing, f"add these types' handler permissions to {DATA.name}")

    def test_every_entry_is_sourced_and_complete(self):
        for rtype, entry in self.types.items():
            with self.subTest(rtype):
                self.assertRegex(entry["source"], r"^[\w.-]+/[\w.-]+/\S+\.json$")
                self.assertRegex(entry["version"], r"^[0-9a-f]{40}$")
                for handler in HANDLERS:
                    self.assertIsInstance(entry[handler], list)
                if not any(entry[h] for h in HANDLERS):
                    self.assertIn("declares no handlers", entry.get("note", ""))

    def test_the_service_role_allows_every_handler_permission_not_refused(self):
        for rtype in sorted(template_types()):
            entry = self.types[rtype]
            for handler in HANDLERS:
                for action in entry[handler]:
                    if refusal(rtype, action):
                        continue
                    resource, context = request(rtype, action)
                    with self.subTest(rtype, handler=handler, action=action, resource=resource):
                        self.assertEqual(decide(self.policies, action, resource, context), ALLOW,
                                         "grant it, scoped like its neighbours, or refuse it in REFUSED with a reason")

    def test_what_is_refused_is_really_not_allowed(self):
        for rtype in sorted(template_types()):
            for handler in HANDLERS:
                for action in self.types[rtype][handler]:
                    why = refusal(rtype, action)
                    if not why:
                        continue
                    resource, context = request(rtype, action)
                    if action.startswith("s3:") and rtype == "AWS::S3::Bucket" and "denied on app data" in why:
                        resource = APP_DATA
                    with self.subTest(rtype, action=action, why=why):
                        self.assertNotEqual(decide(self.policies, action, resource, context), ALLOW, why)

    def test_every_refusal_names_a_handler_permission_of_the_template(self):
        listed = {(t, a) for t in template_types() for h in HANDLERS for a in self.types[t][h]}
        for (rtype, pattern), why in REFUSED.items():
            with self.subTest(rtype=rtype, pattern=pattern):
                self.assertTrue(why)
                self.assertTrue(any(t in (rtype,) or rtype == "*" for t, a in listed
                                    if fnmatch.fnmatchcase(a.lower(), pattern.lower())),
                                "a stale refusal: no handler of the template lists it")


if __name__ == "__main__":
    unittest.main()
