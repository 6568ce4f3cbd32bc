"""stack/shipit.yaml with ApiBackend=container, built by the CloudFormation service role on the
local cloud and judged through ECS's, Elastic Load Balancing's, API Gateway's, EC2's and
Lambda's APIs: the tasks in both private subnets with no public address, behind an internal
load balancer whose health check is /health, reached through a VPC link, and no function."""
from rig.tests import test_service_role_permissions as service_role
from rig.tests.support import CloudTest
from rig.tests.test_service_role_permissions import ACCOUNT, IAM, STACK

IMAGE = (f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/team/api"
         "@sha256:" + "ab" * 32)
FILES = ["cloudformation-service-role.json", "cloudformation-service-role-api.json",
         "cloudformation-service-role-data.json"]


class ContainerBackend(CloudTest):
    role = service_role.ServiceRole.role

    def build(self, params):
        role = self.role(f"{STACK}-cloudformation", FILES)
        self.client("apigateway").update_account(patchOperations=[
            {"op": "replace", "path": "/cloudwatchRoleArn", "value": f"arn:aws:iam::{ACCOUNT}:role/logs"}])
        body = (IAM.parent / "shipit.yaml").read_text()
        made = self.cfn.create_change_set(
            StackName=STACK, ChangeSetName="container", ChangeSetType="CREATE", **self.template_source(body),
            RoleARN=role, Capabilities=["CAPABILITY_IAM"],
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()])
        self.cfn.execute_change_set(StackName=STACK, ChangeSetName=made["Id"])
        stack = self.stack(STACK)
        events = self.cfn.describe_stack_events(StackName=STACK)["StackEvents"]
        self.assertEqual(stack["StackStatus"], "CREATE_COMPLETE",
                         [e.get("ResourceStatusReason") for e in events if "FAILED" in e["ResourceStatus"]])
        return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}

    def test_the_tasks_sit_behind_an_internal_load_balancer_in_both_private_subnets(self):
        out = self.build({"ApiBackend": "container", "ContainerImage": IMAGE})
        ecs, elb, ec2 = self.client("ecs"), self.client("elbv2"), self.client("ec2")
        service = ecs.describe_services(cluster=out["ClusterName"], services=[out["ServiceName"]])["services"][0]
        self.assertEqual((service["launchType"], service["desiredCount"]), ("FARGATE", 2))
        net = service["networkConfiguration"]["awsvpcConfiguration"]
        self.assertEqual(net["assignPublicIp"], "DISABLED")
        subnets = ec2.describe_subnets(SubnetIds=net["subnets"])["Subnets"]
        self.assertEqual(len({s["AvailabilityZone"] for s in subnets}), 2)
        self.assertTrue(all(not s["MapPublicIpOnLaunch"] for s in subnets))
        deploy = service["deploymentConfiguration"]
        self.assertEqual(deploy["deploymentCircuitBreaker"], {"enable": True, "rollback": True})
        self.assertEqual((deploy["minimumHealthyPercent"], deploy["maximumPercent"]), (100, 200))
        task = ecs.describe_task_definition(taskDefinition=out["TaskDefinitionArn"])["taskDefinition"]
        container = task["containerDefinitions"][0]
        self.assertEqual(container["image"], IMAGE)
        self.assertEqual([s["name"] for s in container["secrets"]], ["REDIS_TOKEN"])
        self.assertNotIn("REDIS_TOKEN", {e["name"] for e in container["environment"]})
        lb = elb.describe_load_balancers(LoadBalancerArns=[out["LoadBalancerArn"]])["LoadBalancers"][0]
        self.assertEqual(lb["Scheme"], "internal")
        self.assertEqual({z["SubnetId"] for z in lb["AvailabilityZones"]}, set(net["subnets"]))
        group = elb.describe_target_groups(TargetGroupArns=[out["TargetGroupArn"]])["TargetGroups"][0]
        self.assertEqual((group["TargetType"], group["HealthCheckPath"]), ("ip", "/health"))
        links = self.client("apigatewayv2").get_vpc_links()["Items"]
        self.assertEqual([set(l["SubnetIds"]) for l in links], [set(net["subnets"])])
        self.assertNotIn("ApiFunctionName", out)
        self.assertEqual(self.client("lambda").list_functions()["Functions"], [])

    def test_a_container_without_its_image_or_the_data_tier_is_refused_before_anything_is_made(self):
        body = (IAM.parent / "shipit.yaml").read_text()
        for params in ({"ApiBackend": "container"},
                       {"ApiBackend": "container", "ContainerImage": IMAGE, "EnableDataTier": "false"}):
            with self.subTest(params), self.assertRaises(Exception) as e:
                self.cfn.create_change_set(
                    StackName=STACK, ChangeSetName="c", ChangeSetType="CREATE", **self.template_source(body),
                    Capabilities=["CAPABILITY_IAM"],
                    Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()])
            self.assertIn("ApiBackend=container", str(e.exception))
        self.assertEqual(self.cfn.list_stacks()["StackSummaries"], [])
