"""rig/ecs_tasks.py: a service's tasks run (an image's local command), start only when they may
pull, log and read their secrets, take traffic once the target group's checks pass, and a
revision whose tasks fail is rolled back by the circuit breaker with the old tasks serving."""
import json
import os
import tempfile
import urllib.request

from rig import ecs_tasks
from rig.tests.support import CloudTest

SERVER = """import http.server, json, os
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        broken = self.path == "/health" and os.environ.get("BROKEN")
        body = json.dumps({"version": os.environ.get("VERSION"),
                           "token": os.environ.get("TOKEN"),
                           "table": os.environ.get("TABLE")}).encode()
        self.send_response(500 if broken else 200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"""

ENDPOINTS = ["ecr.api", "ecr.dkr", "logs", "secretsmanager"]


def template(endpoints=ENDPOINTS, breaker="true", extra=""):
    interface = "".join(f"""
  Endpoint{i}:
    Type: AWS::EC2::VPCEndpoint
    Properties:
      VpcId: !Ref Vpc
      ServiceName: !Sub "com.amazonaws.${{AWS::Region}}.{name}"
      VpcEndpointType: Interface
      SubnetIds: [!Ref Subnet]""" for i, name in enumerate(endpoints))
    return f"""Parameters:
  Image: {{Type: String}}
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties: {{CidrBlock: 10.42.0.0/16}}
  Subnet:
    Type: AWS::EC2::Subnet
    Properties: {{VpcId: !Ref Vpc, CidrBlock: 10.42.1.0/24}}
  Routes:
    Type: AWS::EC2::RouteTable
    Properties: {{VpcId: !Ref Vpc}}
  S3Endpoint:
    Type: AWS::EC2::VPCEndpoint
    Properties:
      VpcId: !Ref Vpc
      ServiceName: !Sub "com.amazonaws.${{AWS::Region}}.s3"
      RouteTableIds: [!Ref Routes]{interface}
  Group:
    Type: AWS::EC2::SecurityGroup
    Properties: {{GroupDescription: tasks, VpcId: !Ref Vpc}}
  Token:
    Type: AWS::SecretsManager::Secret
    Properties: {{SecretString: s3cret}}
  Logs:
    Type: AWS::Logs::LogGroup
    Properties: {{RetentionInDays: 7}}
  Execution:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement: [{{Effect: Allow, Principal: {{Service: ecs-tasks.amazonaws.com}}, Action: sts:AssumeRole}}]
      Policies:
        - PolicyName: start
          PolicyDocument:
            Statement:
              - {{Effect: Allow, Action: ecr:GetAuthorizationToken, Resource: "*"}}
              - {{Effect: Allow, Action: [ecr:BatchGetImage, ecr:GetDownloadUrlForLayer], Resource: !Sub "arn:aws:ecr:${{AWS::Region}}:${{AWS::AccountId}}:repository/api"}}
              - {{Effect: Allow, Action: [logs:CreateLogStream, logs:PutLogEvents], Resource: !GetAtt Logs.Arn}}
              - {{Effect: Allow, Action: secretsmanager:GetSecretValue, Resource: !Ref Token}}
  TaskRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement: [{{Effect: Allow, Principal: {{Service: ecs-tasks.amazonaws.com}}, Action: sts:AssumeRole}}]
  Balancer:
    Type: AWS::ElasticLoadBalancingV2::LoadBalancer
    Properties: {{Scheme: internal, Type: application, Subnets: [!Ref Subnet], SecurityGroups: [!Ref Group]}}
  Targets:
    Type: AWS::ElasticLoadBalancingV2::TargetGroup
    Properties:
      TargetType: ip
      Protocol: HTTP
      Port: 8080
      VpcId: !Ref Vpc
      HealthCheckPath: /health
      HealthCheckIntervalSeconds: 5
      HealthCheckTimeoutSeconds: 2
      HealthyThresholdCount: 2
      UnhealthyThresholdCount: 2
  Listener:
    Type: AWS::ElasticLoadBalancingV2::Listener
    Properties:
      LoadBalancerArn: !Ref Balancer
      Protocol: HTTP
      Port: 80
      DefaultActions: [{{Type: forward, TargetGroupArn: !Ref Targets}}]
  Cluster:
    Type: AWS::ECS::Cluster
    Properties: {{ClusterSettings: [{{Name: containerInsights, Value: enabled}}]}}
  Task:
    Type: AWS::ECS::TaskDefinition
    Properties:
      Family: api
      RequiresCompatibilities: [FARGATE]
      NetworkMode: awsvpc
      Cpu: "256"
      Memory: "512"
      ExecutionRoleArn: !GetAtt Execution.Arn
      TaskRoleArn: !GetAtt TaskRole.Arn
      ContainerDefinitions:
        - Name: api
          Image: !Ref Image
          PortMappings: [{{ContainerPort: 8080}}]
          Environment: [{{Name: TABLE, Value: items}}, {{Name: PORT, Value: "8080"}}]
          Secrets: [{{Name: TOKEN, ValueFrom: !Ref Token}}]
          LogConfiguration:
            LogDriver: awslogs
            Options: {{awslogs-group: !Ref Logs, awslogs-region: !Ref AWS::Region, awslogs-stream-prefix: api}}
  Service:
    Type: AWS::ECS::Service
    DependsOn: Listener
    Properties:
      Cluster: !Ref Cluster
      LaunchType: FARGATE
      TaskDefinition: !Ref Task
      DesiredCount: 2
      HealthCheckGracePeriodSeconds: 10
      LoadBalancers: [{{ContainerName: api, ContainerPort: 8080, TargetGroupArn: !Ref Targets}}]
      NetworkConfiguration:
        AwsvpcConfiguration: {{AssignPublicIp: DISABLED, Subnets: [!Ref Subnet], SecurityGroups: [!Ref Group]}}
      DeploymentConfiguration:
        MinimumHealthyPercent: 100
        MaximumPercent: 200
        DeploymentCircuitBreaker: {{Enable: {breaker}, Rollback: {breaker}}}
{extra}Outputs:
  Cluster: {{Value: !Ref Cluster}}
  Service: {{Value: !Ref Service}}
  Targets: {{Value: !Ref Targets}}
"""


class EcsTasks(CloudTest):
    def setUp(self):
        super().setUp()
        previous = os.environ.get(ecs_tasks.RUN_VAR)
        os.environ[ecs_tasks.RUN_VAR] = "1"
        self.addCleanup(lambda: os.environ.__setitem__(ecs_tasks.RUN_VAR, previous)
                        if previous is not None else os.environ.pop(ecs_tasks.RUN_VAR, None))
        self.addCleanup(ecs_tasks.stop_all)
        self.directory = tempfile.mkdtemp()
        with open(os.path.join(self.directory, "server.py"), "w") as f:
            f.write(SERVER)
        self.ecr = self.client("ecr")
        self.ecr.create_repository(repositoryName="api")
        self.layers = 0

    def image(self, command):
        """Pushes an image whose local command is `command`; returns its URI by digest."""
        self.layers += 1
        manifest = {
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": "sha256:" + "c" * 64, "size": 2},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                        "digest": f"sha256:{self.layers:064x}", "size": 1}],
            "annotations": {ecs_tasks.LOCAL_COMMAND: command,
                            ecs_tasks.LOCAL_DIRECTORY: self.directory}}
        pushed = self.ecr.put_image(repositoryName="api", imageManifest=json.dumps(manifest),
                                    imageTag=f"v{self.layers}")
        return (f"123456789012.dkr.ecr.us-east-1.amazonaws.com/api@"
                f"{pushed['image']['imageId']['imageDigest']}")

    def health(self, stack):
        group = self.outputs(stack)["Targets"]
        found = self.client("elbv2").describe_target_health(TargetGroupArn=group)
        return sorted((int(d["Target"]["Port"]), d["TargetHealth"]["State"])
                      for d in found["TargetHealthDescriptions"])

    def answer(self, port, path="/"):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return json.loads(r.read())

    def service(self, stack):
        out = self.outputs(stack)
        return self.client("ecs").describe_services(
            cluster=out["Cluster"], services=[out["Service"]])["services"][0]

    def failure(self, stack):
        return [e.get("ResourceStatusReason", "") for e in
                self.cfn.describe_stack_events(StackName=stack)["StackEvents"]
                if e["ResourceStatus"].endswith("_FAILED")]

    def test_tasks_serve_once_healthy_with_their_environment_and_secrets(self):
        image = self.image("VERSION=1 exec python3 server.py")
        self.assertEqual(self.deploy("s", template(), {"Image": image})["StackStatus"],
                         "CREATE_COMPLETE")
        health = self.health("s")
        self.assertEqual([state for _, state in health], ["healthy", "healthy"], health)
        for port, _ in health:
            # PORT is the task's own; the secret was resolved from Secrets Manager.
            self.assertEqual(self.answer(port), {"version": "1", "token": "s3cret",
                                                 "table": "items"})

    def test_a_failing_revision_is_rolled_back_and_the_old_tasks_keep_serving(self):
        first = self.image("VERSION=1 exec python3 server.py")
        self.deploy("s", template(), {"Image": first})
        before = self.health("s")
        broken = self.image("VERSION=2 BROKEN=1 exec python3 server.py")
        stack = self.deploy("s", template(), {"Image": broken}, kind="UPDATE")
        self.assertEqual(stack["StackStatus"], "UPDATE_ROLLBACK_COMPLETE")
        self.assertTrue(any("Circuit Breaker was triggered" in r and "ELB health checks" in r
                            for r in self.failure("s")), self.failure("s"))
        self.assertEqual(self.health("s"), before, "the old tasks serve, and only they")
        service = self.service("s")
        self.assertTrue(service["taskDefinition"].endswith("task-definition/api:1"),
                        service["taskDefinition"])
        ecs = self.client("ecs")
        self.assertEqual(ecs.describe_task_definition(taskDefinition="api:2")["taskDefinition"]
                         ["status"], "INACTIVE")
        self.assertEqual(self.answer(before[0][0])["version"], "1")

        # The next good image rolls out: new tasks serve, the old ones are gone.
        fixed = self.image("VERSION=3 exec python3 server.py")
        self.assertEqual(self.deploy("s", template(), {"Image": fixed}, kind="UPDATE")
                         ["StackStatus"], "UPDATE_COMPLETE")
        after = self.health("s")
        self.assertEqual(len(after), 2)
        self.assertFalse({p for p, _ in after} & {p for p, _ in before})
        self.assertEqual({self.answer(p)["version"] for p, _ in after}, {"3"})

    def test_a_task_that_exits_counts_as_a_failure(self):
        image = self.image("exit 3")
        stack = self.deploy("s", template(), {"Image": image})
        self.assertEqual(stack["StackStatus"], "ROLLBACK_COMPLETE")
        self.assertTrue(any("Essential container in task exited (exit code 3)" in r
                            for r in self.failure("s")), self.failure("s"))

    def test_an_image_the_registry_does_not_hold_cannot_be_pulled(self):
        image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/api@sha256:" + "9" * 64
        stack = self.deploy("s", template(), {"Image": image})
        self.assertEqual(stack["StackStatus"], "ROLLBACK_COMPLETE")
        self.assertTrue(any("CannotPullContainerError" in r and "not found" in r
                            for r in self.failure("s")), self.failure("s"))

    def test_private_subnets_without_an_endpoint_cannot_start_a_task(self):
        for missing in ("ecr.dkr", "logs", "secretsmanager"):
            with self.subTest(missing=missing):
                image = self.image("exec python3 server.py")
                name = f"no-{missing.replace('.', '-')}"
                kept = [e for e in ENDPOINTS if e != missing]
                stack = self.deploy(name, template(kept), {"Image": image})
                self.assertEqual(stack["StackStatus"], "ROLLBACK_COMPLETE")
                self.assertTrue(any(f"reach no {missing} endpoint" in r
                                    for r in self.failure(name)), self.failure(name))

    def test_the_credentials_endpoint_answers_the_task_alone_and_rotates(self):
        image = self.image("VERSION=1 exec python3 server.py")
        self.deploy("s", template(), {"Image": image})
        with ecs_tasks._lock:
            task = next(iter(ecs_tasks._tasks.values()))
        self.assertEqual(ecs_tasks.credentials("nope", task.token)[0], "404 Not Found")
        self.assertEqual(ecs_tasks.credentials(task.id, "wrong")[0], "401 Unauthorized")
        self.assertEqual(ecs_tasks.credentials(task.id, "ünicode")[0], "401 Unauthorized")
        status, first = ecs_tasks.credentials(task.id, task.token)
        self.assertEqual(status, "200 OK")
        self.assertTrue(first["RoleArn"].endswith(first["RoleArn"].split("/")[-1]))
        self.assertEqual(set(first), {"AccessKeyId", "SecretAccessKey", "Token", "Expiration",
                                      "RoleArn"})
        task.minted -= 3600  # half-way to expiry and past: ECS hands out new ones
        self.assertNotEqual(ecs_tasks.credentials(task.id, task.token)[1]["AccessKeyId"],
                            first["AccessKeyId"])

    def test_a_later_failure_puts_the_service_back_on_the_old_revision(self):
        # The update rolls the new image out, then another resource fails: CloudFormation's
        # rollback puts the old revision back, and its tasks serve.
        failing = """  Breaks:
    Type: AWS::SQS::Queue
    DependsOn: Service
    Properties: {VisibilityTimeout: !If [Broken, "not a number", 30]}
"""
        t = template(extra=failing).replace(
            "Parameters:\n  Image: {Type: String}\n",
            "Parameters:\n  Image: {Type: String}\n  Break: {Type: String, Default: \"no\"}\n"
            "Conditions:\n  Broken: !Equals [!Ref Break, \"yes\"]\n")
        first = self.image("VERSION=1 exec python3 server.py")
        self.assertEqual(self.deploy("s", t, {"Image": first})["StackStatus"], "CREATE_COMPLETE")
        second = self.image("VERSION=2 exec python3 server.py")
        stack = self.deploy("s", t, {"Image": second, "Break": "yes"}, kind="UPDATE")
        self.assertEqual(stack["StackStatus"], "UPDATE_ROLLBACK_COMPLETE")
        service = self.service("s")
        self.assertTrue(service["taskDefinition"].endswith("task-definition/api:1"),
                        service["taskDefinition"])
        ecs = self.client("ecs")
        self.assertEqual(ecs.describe_task_definition(taskDefinition="api:1")["taskDefinition"]
                         ["status"], "ACTIVE")
        self.assertEqual(ecs.describe_task_definition(taskDefinition="api:2")["taskDefinition"]
                         ["status"], "INACTIVE")
        health = self.health("s")
        self.assertEqual([s for _, s in health], ["healthy", "healthy"], health)
        self.assertEqual({self.answer(p)["version"] for p, _ in health}, {"1"})

    def test_without_the_circuit_breaker_a_failing_image_runs_out_the_deadline(self):
        previous = ecs_tasks.DEADLINE
        ecs_tasks.DEADLINE = 3
        self.addCleanup(setattr, ecs_tasks, "DEADLINE", previous)
        image = self.image("VERSION=1 BROKEN=1 exec python3 server.py")
        stack = self.deploy("s", template(breaker="false"), {"Image": image})
        self.assertEqual(stack["StackStatus"], "ROLLBACK_COMPLETE")
        reasons = self.failure("s")
        self.assertTrue(any("Service did not stabilize" in r and "steady state" in r
                            for r in reasons), reasons)
        with ecs_tasks._lock:
            self.assertEqual(ecs_tasks._tasks, {}, "no task left running")
