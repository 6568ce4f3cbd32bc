"""A CREATE change set for a stack in REVIEW_IN_PROGRESS reuses it; one for a live stack is refused.

On AWS: a CREATE change set that was never executed leaves its stack in REVIEW_IN_PROGRESS, and a
new CREATE change set for that name replaces it; a CREATE change set for a stack that exists
(and is not in review) is refused with a ValidationError.
In moto: each CREATE change set makes another stack of the same name, so the name kept pointing
at the one that never leaves REVIEW_IN_PROGRESS; and a live stack gets a second stack too.
The patch: wraps create_change_set: for a CREATE, a stack of that name in REVIEW_IN_PROGRESS is
dropped with its change sets first, and any other stack of that name is a ValidationError.
"""
from rig.moto_version import check
from rig.patches.change_set_call import arguments


def apply():
    """Check the moto version, then patch it as above (rig.install() calls this once)."""
    check(__name__)
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.models import CloudFormationBackend

    original = CloudFormationBackend.create_change_set


    def create_change_set(self, *args, **kwargs):
        given = arguments(args, kwargs)
        stack_name = given.get("stack_name")
        change_set_name = given.get("change_set_name")
        if given.get("change_set_type") == "CREATE":
            for stack_id, stack in list(self.stacks.items()):
                if stack.name != stack_name:
                    continue
                if stack.status != "REVIEW_IN_PROGRESS":
                    raise ValidationError(
                        stack_name,
                        message=f"Stack [{stack_name}] already exists and cannot be created again with the changeSet [{change_set_name}].")
                del self.stacks[stack_id]
                for cs_id, cs in list(self.change_sets.items()):
                    if cs.stack_id == stack_id:
                        del self.change_sets[cs_id]
        return original(self, *args, **kwargs)

    CloudFormationBackend.create_change_set = create_change_set
