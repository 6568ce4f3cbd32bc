"""ListStackResources names every resource the stack has, and only those.

On AWS: ListStackResources answers one summary per resource of the stack, each with its
LogicalResourceId, ResourceType and PhysicalResourceId; a resource whose Condition is false is
not created and not listed (the CloudFormation User Guide, Conditions: a resource associated
with a false condition is not created; the service model's StackResourceSummary makes
LogicalResourceId, ResourceType, ResourceStatus and LastUpdatedTimestamp required members).
In moto: it answers one summary per resource of the template, reading the logical id and the
type from attributes most of moto's models do not have: a resource whose Condition is false (moto
keeps None for it) and a resource of a model without those attributes come back with an empty
LogicalResourceId and ResourceType. shipit's destroy then reported " () : kept" for each.
The patch: the summaries are made from the stack's own map (logical id -> resource) and its
template's Type, for the resources made whose Condition is true now; the status and the
timestamp stay moto's.
Not fixed: moto forgets a resource whose model has no update method when an update changes it
(the map keeps None: ApiGateway, Lambda::Permission, RDS::DBInstance), and it neither deletes
nor forgets a resource whose Condition turns false; the first is not listed, the second is
left out here but still exists in moto's backends.
"""
from rig.moto_version import check


def summaries(stack):
    """(logical id, type, physical id) of each resource `stack` has, in template order."""
    resources = stack.resource_map
    # The map's own template: after a failed update moto's stack keeps the old one.
    bodies = resources._resource_json_map
    conditions = resources.lazy_condition_map
    # The resources made so far: indexing the map instead would create one not made yet (moto
    # creates on first read).
    made = resources._parsed_resources
    out = []
    for logical_id in resources.resources:
        body = bodies.get(logical_id) or {}
        condition = body.get("Condition")
        resource = made.get(logical_id)
        if resource is None or (condition and not conditions[condition]):
            continue  # never made, or its Condition is false now
        out.append((logical_id, body.get("Type", ""),
                    str(getattr(resource, "physical_resource_id", "") or "")))
    return out


def apply():
    """Check the moto version, then patch it as above (rig.install() calls this once)."""
    check(__name__)
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.core.responses import ActionResult

    def list_stack_resources(self):
        stack, _ = self.cloudformation_backend.list_stack_resources(self._get_param("StackName"))
        return ActionResult({"StackResourceSummaries": [
            {
                "ResourceStatus": "CREATE_COMPLETE",
                "LogicalResourceId": logical_id,
                "LastUpdatedTimestamp": stack.creation_time,
                "PhysicalResourceId": physical_id,
                "ResourceType": kind,
            }
            for logical_id, kind, physical_id in summaries(stack)
        ]})

    CloudFormationResponse.list_stack_resources = list_stack_resources
