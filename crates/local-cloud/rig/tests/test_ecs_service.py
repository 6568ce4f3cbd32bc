"""patches/ecs_service.py: a service CloudFormation makes keeps its launch type, network, load
balancers, deployment configuration and grace period, as DescribeServices shows on AWS."""
from rig.tests.support import CloudTest

TEMPLATE = """Parameters:
  Image: {Type: String, Default: "123456789012.dkr.ecr.us-east-1.amazonaws.com/api@sha256:00"}
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties: {CidrBlock: 10.42.0.0/16}
  Subnet:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !Ref Vpc, CidrBlock: 10.42.1.0/24}
  Group:
    Type: AWS::EC2::SecurityGroup
    Properties: {GroupDescription: tasks, VpcId: !Ref Vpc}
  Cluster:
    Type: AWS::ECS::Cluster
    Properties: {ClusterSettings: [{Name: containerInsights, Value: enabled}]}
  Task:
    Type: AWS::ECS::TaskDefinition
    Properties:
      Family: api
      RequiresCompatibilities: [FARGATE]
      NetworkMode: awsvpc
      Cpu: "256"
      Memory: "512"
      ContainerDefinitions:
        - {Name: api, Image: !Ref Image, PortMappings: [{ContainerPort: 8080}]}
  Service:
    Type: AWS::ECS::Service
    Properties:
      Cluster: !Ref Cluster
      LaunchType: FARGATE
      TaskDefinition: !Ref Task
      DesiredCount: 2
      HealthCheckGracePeriodSeconds: 60
      NetworkConfiguration:
        AwsvpcConfiguration: {AssignPublicIp: DISABLED, Subnets: [!Ref Subnet], SecurityGroups: [!Ref Group]}
      DeploymentConfiguration:
        MinimumHealthyPercent: 100
        MaximumPercent: 200
        DeploymentCircuitBreaker: {Enable: true, Rollback: true}
Outputs:
  Cluster: {Value: !Ref Cluster}
  Service: {Value: !Ref Service}
"""


class EcsService(CloudTest):
    def test_the_service_keeps_what_the_template_gave_it(self):
        self.assertEqual(self.deploy("s", TEMPLATE)["StackStatus"], "CREATE_COMPLETE")
        out = self.outputs("s")
        service = self.client("ecs").describe_services(
            cluster=out["Cluster"], services=[out["Service"]])["services"][0]
        self.assertEqual(service["launchType"], "FARGATE")
        self.assertEqual(service["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"], "DISABLED")
        self.assertEqual(service["deploymentConfiguration"]["deploymentCircuitBreaker"],
                         {"enable": True, "rollback": True})
        self.assertEqual(service["healthCheckGracePeriodSeconds"], 60)
        self.assertTrue(service["taskDefinition"].endswith(":task-definition/api:1"), service["taskDefinition"])
        task = self.client("ecs").describe_task_definition(taskDefinition="api:1")["taskDefinition"]
        self.assertEqual((task["cpu"], task["memory"], task["networkMode"]), ("256", "512", "awsvpc"))
        self.assertEqual(task["requiresCompatibilities"], ["FARGATE"])

    def test_a_new_image_moves_the_service_to_the_new_revision(self):
        self.deploy("s", TEMPLATE)
        before = self.outputs("s")
        image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/api@sha256:11"
        self.deploy("s", TEMPLATE, {"Image": image}, kind="UPDATE")
        out = self.outputs("s")
        self.assertEqual(out, before, "the same cluster and service")
        ecs = self.client("ecs")
        service = ecs.describe_services(cluster=out["Cluster"], services=[out["Service"]])["services"][0]
        self.assertTrue(service["taskDefinition"].endswith(":task-definition/api:2"), service["taskDefinition"])
        task = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
        self.assertTrue(task["containerDefinitions"][0]["image"].endswith("api@sha256:11"))
        self.assertEqual(service["deploymentConfiguration"]["deploymentCircuitBreaker"]["rollback"], True)
