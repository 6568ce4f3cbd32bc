"""UpdateTerminationProtection, and DeleteStack refused on a protected stack.

On AWS: UpdateTerminationProtection turns a stack's termination protection on or off, and
DeleteStack on a protected stack fails with a ValidationError.
In moto: EnableTerminationProtection is stored at create, but UpdateTerminationProtection is
not implemented (an HTTP 500) and protected stacks are deleted.
The patch: adds the action to moto's CloudFormation responses, and wraps delete_stack to refuse
a protected stack with CloudFormation's message.
"""
from rig.moto_version import check


def apply():
    """Check the moto version, then patch it as above (rig.install() calls this once)."""
    check(__name__)
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.models import CloudFormationBackend
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.core.responses import ActionResult

    def find(backend, name_or_id):
        for stack in backend.stacks.values():
            if name_or_id in (stack.name, stack.stack_id):
                return stack
        raise ValidationError(name_or_id, message=f"Stack [{name_or_id}] does not exist")

    def update_termination_protection(self):
        stack = find(self.cloudformation_backend, self._get_param("StackName"))
        stack.enable_termination_protection = str(
            self._get_param("EnableTerminationProtection")).lower() == "true"
        return ActionResult({"StackId": stack.stack_id})

    CloudFormationResponse.update_termination_protection = update_termination_protection
    original_delete = CloudFormationBackend.delete_stack

    def delete_stack(self, name_or_stack_id):
        stack = next((s for s in self.stacks.values()
                      if name_or_stack_id in (s.name, s.stack_id)), None)
        if stack is not None and stack.enable_termination_protection:
            raise ValidationError(
                name_or_stack_id,
                message=f"Stack [{stack.name}] cannot be deleted while TerminationProtection is enabled")
        return original_delete(self, name_or_stack_id)

    CloudFormationBackend.delete_stack = delete_stack
