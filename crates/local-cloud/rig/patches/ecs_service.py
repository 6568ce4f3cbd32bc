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
Not fixed: a change to the cluster, the network or the load balancers (replacements on AWS) is
an update here; no task runs, so a deployment completes at once; a cluster without Properties
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


def apply():
    """Check the moto version, then patch it as above (rig.install() calls this once)."""
    check(__name__)
    from moto.ecs.models import Cluster, Service, TaskDefinition, ecs_backends

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
        return kept(service, props)

    def update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        original = original_resource
        props = cloudformation_json["Properties"]
        task = props["TaskDefinition"]
        task = task.arn if isinstance(task, TaskDefinition) else task
        count = props.get("DesiredCount")
        service = ecs_backends[account_id][region_name].update_service({
            "cluster": original.cluster_name, "service": original.name,
            "task_definition": task,
            "desired_count": int(count) if count is not None else original.desired_count})
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
        task = register(props, account_id, region_name)
        task.rig_properties = props
        for service in list(backend.services.values()):
            if service.task_definition == original.arn:
                backend.update_service({"cluster": service.cluster_name, "service": service.name,
                                        "task_definition": task.arn,
                                        "desired_count": service.desired_count})
        backend.deregister_task_definition(original.arn)
        return task

    Service.create_from_cloudformation_json = classmethod(create)
    Service.update_from_cloudformation_json = classmethod(update)
    TaskDefinition.create_from_cloudformation_json = classmethod(create_task)
    TaskDefinition.update_from_cloudformation_json = classmethod(update_task)
