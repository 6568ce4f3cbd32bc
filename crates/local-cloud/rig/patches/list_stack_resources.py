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
The patch: the summaries are made from the stack's own map (logical id -> resource) and the
template's Type, for the resources that exist; the status and the timestamp stay moto's.
"""
from rig.moto_version import check


def summaries(stack):
    """(logical id, type, physical id) of each resource `stack` has, in template order."""
    types = {name: (body or {}).get("Type", "")
             for name, body in (stack.template_dict.get("Resources") or {}).items()}
    out = []
    # The resources made so far: indexing the map instead would create one not made yet (moto
    # creates on first read), and a resource whose Condition is false is never made.
    made = stack.resource_map._parsed_resources
    for logical_id in stack.resource_map.resources:
        resource = made.get(logical_id)
        if resource is None:
            continue
        out.append((logical_id, types.get(logical_id, ""),
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
