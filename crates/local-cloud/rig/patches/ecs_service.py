"""ECS services and task definitions as CloudFormation makes them: whole, and in step.

On AWS: an AWS::ECS::Service keeps its launch type, platform version, network configuration,
load balancers, tag propagation, deployment configuration (the circuit breaker among it) and
health-check grace period, and DescribeServices returns them.
In moto: the Service model's CloudFormation create passes the cluster, name, desired count and
task definition only (its own comments mark LoadBalancers and Role as to do), so a Fargate
service in private subnets behind a load balancer describes as an EC2 service with none of that.
A task definition keeps its CPU, network mode, compatibilities, runtime platform and both
roles; a new revision (a new image) replaces it, and CloudFormation updates every service whose
TaskDefinition named the old one, so the service runs the new revision.
In moto: the TaskDefinition model registers the family, containers, volumes and memory only,
and its update leaves the service on the deregistered revision (a service is updated only when
its own properties or parameters change).
The patch: the create passes the rest to moto's own CreateService (CloudFormation's PascalCase
keys turned into the API's camelCase), and keeps the deployment configuration and the grace
period on the service, which DescribeServices then returns. A task definition is registered
with every property, and a changed one is a new revision that the services on the old one
move to.
An update (a new image is a new task definition revision) points the service at the new
revision by its ARN, with its count and deployment configuration; moto's own update names the
family, and the service stayed on the first revision.
Tasks: a service's create, a change of its count, and a new revision are deployments that
rig/ecs_tasks.py runs (when the local cloud runs tasks): the CloudFormation operation waits for
them as CloudFormation waits for a stable service, and fails with ECS's reason when the circuit
breaker trips. A failed new revision is deregistered and the service stays on the old one, which is
deregistered only once the whole update succeeded (CloudFormation's cleanup); when another
resource fails the update later, the services go back to the old revision, rolled out again
(rollback.after()). A failed create leaves no service behind.
Deleting a service (moto's CloudFormation never deleted one) stops its tasks.
Not fixed: a change to the cluster, the network or the load balancers (replacements on AWS) is
an update here; a cluster without Properties
is "modified" by every update in moto, and a modified cluster without a ClusterName is made
anew under another name (shipit's has ClusterSettings).
"""
from rig.moto_version import check

NUMBERS = {"containerPort", "minimumHealthyPercent", "maximumPercent", "healthCheckGracePeriodSeconds"}


def counts(value):
    """`value` with the API's counts (NUMBERS) as ints where CloudFormation gave strings."""
    if isinstance(value, dict):
        return {k: int(v) if k in NUMBERS and isinstance(v, str) and v.isdigit() else counts(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [counts(v) for v in value]
    return value


def camel(value):
    """CloudFormation's property shapes in the API's spelling: keys lowerCamelCase (moto's own
    conversion), counts int."""
    from moto.core.utils import pascal_to_camelcase, remap_nested_keys
    return counts(remap_nested_keys(value, pascal_to_camelcase))


def kept(service, props):
    """`service` with what moto's Service model has no field for: the deployment configuration
    and the health-check grace period, which DescribeServices returns."""
    service.deployment_configuration = camel(props.get("DeploymentConfiguration") or {})
    grace = props.get("HealthCheckGracePeriodSeconds")
    service.health_check_grace_period_seconds = int(grace) if grace is not None else None
    return service


# The failures of the change set executing now (rollback.execution()): moto retries a resource
# whose update failed, and CloudFormation neither runs a failed deployment again nor registers
# another revision for it. Keys: ("deploy", service, images, count) and ("register", revision,
# images).
_failed = {"execution": None, "failures": {}}


def failures():
    """The failures remembered for the executing change set (none outside one)."""
    from rig.patches.rollback import execution
    if _failed["execution"] != execution():
        _failed["execution"], _failed["failures"] = execution(), {}
    return _failed["failures"] if execution() is not None else {}


def images(definitions, key="image"):
    return repr([c.get(key) for c in definitions or []])


def rolled_out(backend, service, task, count):
    """Runs `task` (a TaskDefinition) as `service` with `count` tasks (rig/ecs_tasks.py);
    raises ECS's reason when the deployment fails (at once, for a retry of the same one within
    one change set)."""
    from rig import ecs_tasks
    known = failures()
    key = ("deploy", service.arn, images(task.container_definitions), count)
    if key in known:
        raise ValueError(known[key])
    try:
        ecs_tasks.deploy(backend, service, task, count, service.deployment_configuration,
                         service.health_check_grace_period_seconds)
    except ecs_tasks.DeploymentFailed as e:
        operation = ("ECS Deployment Circuit Breaker was triggered" if e.tripped
                     else "Service did not stabilize")
        message = (f"Resource handler returned message: \"Error occurred during operation "
                   f"'{operation}'.\" ({e})")
        known[key] = message
        raise ValueError(message) from None


def apply():
    """Check the moto version, then patch it as above (rig.install() calls this once)."""
    check(__name__)
    from moto.ecs.models import Cluster, EC2ContainerServiceBackend, Service, TaskDefinition, \
        ecs_backends

    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        props = cloudformation_json["Properties"]
        cluster = props["Cluster"]
        cluster = cluster.name if isinstance(cluster, Cluster) else cluster
        task = props["TaskDefinition"]
        task = task.arn if isinstance(task, TaskDefinition) else task
        count = props.get("DesiredCount")
        network = props.get("NetworkConfiguration")
        service = ecs_backends[account_id][region_name].create_service(
            cluster, props.get("ServiceName") or resource_name,
            int(count) if count is not None else None, task_definition_str=task,
            load_balancers=camel(props.get("LoadBalancers") or []),
            tags=camel(props.get("Tags") or []),
            deployment_controller=camel(props.get("DeploymentController")),
            launch_type=props.get("LaunchType"),
            platform_version=props.get("PlatformVersion"),
            propagate_tags=props.get("PropagateTags") or "NONE",
            network_configuration=camel(network) if network else None,
            role_arn=props.get("Role"))
        backend = ecs_backends[account_id][region_name]
        try:
            rolled_out(backend, kept(service, props),
                       backend.describe_task_definition(service.task_definition),
                       service.desired_count or 0)
        except ValueError:
            backend.delete_service(cluster, service.name, force=True)
            raise
        return service

    def update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        original = original_resource
        props = cloudformation_json["Properties"]
        task = props["TaskDefinition"]
        task = task.arn if isinstance(task, TaskDefinition) else task
        count = props.get("DesiredCount")
        count = int(count) if count is not None else original.desired_count
        backend = ecs_backends[account_id][region_name]
        rolled_out(backend, kept(original, props), backend.describe_task_definition(task), count)
        service = backend.update_service({
            "cluster": original.cluster_name, "service": original.name,
            "task_definition": task, "desired_count": count})
        return kept(service, props)

    def register(props, account_id, region_name):
        return ecs_backends[account_id][region_name].register_task_definition(
            family=props.get("Family") or f"task-definition-{id(props)}",
            container_definitions=camel(props.get("ContainerDefinitions") or []),
            volumes=camel(props.get("Volumes") or []),
            network_mode=props.get("NetworkMode"),
            requires_compatibilities=props.get("RequiresCompatibilities"),
            cpu=str(props["Cpu"]) if props.get("Cpu") is not None else None,
            memory=str(props["Memory"]) if props.get("Memory") is not None else None,
            task_role_arn=props.get("TaskRoleArn"),
            execution_role_arn=props.get("ExecutionRoleArn"),
            runtime_platform=camel(props.get("RuntimePlatform")),
            tags=camel(props.get("Tags") or []))

    def create_task(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        task = register(cloudformation_json["Properties"], account_id, region_name)
        task.rig_properties = cloudformation_json["Properties"]
        return task

    def update_task(cls, original_resource, new_resource_name, cloudformation_json, account_id,
                    region_name):
        original = original_resource
        props = cloudformation_json["Properties"]
        # moto "updates" a resource whose Condition just turned true right after making it
        # (it reads it first, which creates it): the same definition is no new revision.
        if getattr(original, "rig_properties", None) == props:
            return original
        backend = ecs_backends[account_id][region_name]
        from rig.patches.rollback import after
        known = failures()
        retry = ("register", original.arn, images(props.get("ContainerDefinitions"), "Image"))
        if retry in known:  # moto's retry of this update: no new revision, the same failure
            raise ValueError(known[retry])
        task = register(props, account_id, region_name)
        task.rig_properties = props
        moved = []

        def move(services, revision):
            for service in services:
                backend.update_service({"cluster": service.cluster_name,
                                        "service": service.name,
                                        "task_definition": revision.arn,
                                        "desired_count": service.desired_count})

        def undo():
            # CloudFormation's rollback: the services back on the old revision, rolled out
            # again, and the new one deregistered.
            for service in moved:
                rolled_out(backend, service, original, service.desired_count or 0)
            move(moved, original)
            backend.deregister_task_definition(task.arn)

        try:
            for service in list(backend.services.values()):
                if service.task_definition == original.arn:
                    rolled_out(backend, service, task, service.desired_count or 0)
                    move([service], task)
                    moved.append(service)
        except ValueError as e:
            undo()
            known[retry] = str(e)
            raise
        # The old revision is deregistered in the update's cleanup, once all of it succeeded.
        after(lambda: backend.deregister_task_definition(original.arn), undo)
        return task

    def delete(self, account_id, region_name):
        # moto's Service has no delete: a stack's deletion left it ACTIVE.
        ecs_backends[account_id][region_name].delete_service(self.cluster_name, self.name, True)

    original_delete = EC2ContainerServiceBackend.delete_service

    def delete_service(self, cluster_name, service_name, force=False):
        service = original_delete(self, cluster_name, service_name, force)
        from rig import ecs_tasks
        ecs_tasks.stop_service(service.arn)
        return service

    Service.create_from_cloudformation_json = classmethod(create)
    Service.update_from_cloudformation_json = classmethod(update)
    TaskDefinition.create_from_cloudformation_json = classmethod(create_task)
    TaskDefinition.update_from_cloudformation_json = classmethod(update_task)
    EC2ContainerServiceBackend.delete_service = delete_service
    Service.delete = delete
