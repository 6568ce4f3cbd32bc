"""A resource is made after what it DependsOn, whenever CloudFormation makes it.

On AWS: CloudFormation creates a resource only once everything its DependsOn names exists, in a
create and in an update alike (a resource whose Condition an update turns true included).
In moto: a stack's first create walks the resources in DependsOn order, but an update makes new
resources in the template's order, or whenever another resource's Ref first reads them, so a
resource can be made before what it depends on (an ECS service before the VPC endpoints its
tasks pull through).
The patch: making a resource first makes (reads) each resource its DependsOn names.
"""
from rig.moto_version import check


def apply():
    """Check the moto version, then patch it as above (rig.install() calls this once)."""
    check(__name__)
    import moto.cloudformation.parsing as parsing

    original = parsing.parse_and_create_resource

    def create_resource(logical_id, resource_json, resources_map, account_id, region_name):
        depends = resource_json.get("DependsOn") or []
        for dependency in [depends] if isinstance(depends, str) else depends:
            try:
                resources_map[dependency]  # made now if it is not yet
            except KeyError:
                pass  # not in the template: CloudFormation's validation says so, not this
        return original(logical_id, resource_json, resources_map, account_id, region_name)

    parsing.parse_and_create_resource = create_resource
