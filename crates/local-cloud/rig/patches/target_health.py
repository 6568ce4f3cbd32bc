"""A target group's health is what its health checks find.

On AWS: DescribeTargetHealth lists a target group's registered targets (an ECS service's tasks,
registered as the service starts them) with their state: initial, healthy, unhealthy or
draining, as the load balancer's health checks found them.
In moto: targets are what RegisterTargets was given, and a registered IP target is "healthy"
whatever answers there.
The patch: for a target group whose tasks the rig runs (rig/ecs_tasks.py), DescribeTargetHealth
answers those tasks (address 127.0.0.1, each its own port) with the state the rig's health
checker found; other groups are answered by moto.
"""
from rig.moto_version import check


def apply():
    """Check the moto version, then patch it as above (rig.install() calls this once)."""
    check(__name__)
    from moto.elbv2.models import ELBv2Backend, FakeHealthStatus

    original = ELBv2Backend.describe_target_health
    reasons = {
        "initial": ("Elb.RegistrationInProgress", "Target registration is in progress"),
        "unhealthy": ("Target.FailedHealthChecks", "Health checks failed"),
        "draining": ("Target.DeregistrationInProgress", "Target deregistration is in progress"),
    }

    def describe_target_health(self, target_group_arn, targets):
        from rig import ecs_tasks
        if not ecs_tasks.enabled() or not ecs_tasks.managed(target_group_arn):
            return original(self, target_group_arn, targets)
        running = ecs_tasks.health(target_group_arn)
        group = self.target_groups[target_group_arn]
        return [FakeHealthStatus(address, str(port), group.health_check_port, state,
                                 *reasons.get(state, (None, None)))
                for address, port, state in running]

    ELBv2Backend.describe_target_health = describe_target_health
