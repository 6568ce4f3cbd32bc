"""A resource that fails to create fails the stack, which rolls back, as on CloudFormation.

On AWS: when a resource fails during a change set, CloudFormation records it (CREATE_FAILED or
UPDATE_FAILED, with the reason), rolls back, and the stack settles in ROLLBACK_COMPLETE (a failed
first create) or UPDATE_ROLLBACK_COMPLETE; after a change set, the stack's outputs are those of
the change set's template.
In moto: ExecuteChangeSet has no failure handling (the resource's exception fails the call
itself, as an HTTP 500 or the resource's own error, and the stack stays mid-operation), and an
executed change set leaves the stack with the parsed template, and so the outputs, from before
it (none at all after a CREATE change set).
A failed update also left moto's resource map on the new template and parameters, with the
resources it had made so far, so the stack's outputs were the new template's (reading one that
failed to create tried, and failed, again: an HTTP 500 on DescribeStacks).
The patch: the resource being created is remembered (wrapping parse_and_create_resource), and
execute_change_set is wrapped: on success the stack takes the change set's template and outputs;
on an exception it records the failed resource's event, deletes what a failed create made, and
sets the rolled-back status and events; the change set becomes EXECUTE_FAILED. A failed update
deletes the resources it made and puts the resource map back as it was (template, parameters,
conditions, the resources it knew).
Not reproduced: what a failed update modified in place or removed before the failure stays so
(moto removes resources first; CloudFormation removes them only after the update succeeded).
"""
from rig.moto_version import check


import itertools
import threading

# What the change set executing on this thread is doing: the resource being created, a token of
# the execution itself (execution()), and what to do once it succeeded or failed (after()).
current = threading.local()
_tokens = itertools.count(1)


def execution():
    """A token of the change set executing on this thread (None outside one), never reused:
    moto retries a resource whose update failed, and a patch can tell a retry by it."""
    return getattr(current, "execution", None)


def after(success, failure):
    """Runs `success` once the executing change set succeeded (CloudFormation's cleanup
    phase), else `failure` (its rollback), last registered first; outside an execution,
    `success` at once."""
    if execution() is None:
        success()
    else:
        current.after.append((success, failure))


def apply():
    """Check the moto version, then patch it as above (rig.install() calls this once)."""
    check(__name__)

    import moto.cloudformation.parsing as parsing
    from moto.cloudformation.models import CloudFormationBackend, Event

    original_create = parsing.parse_and_create_resource

    def create_resource(logical_id, resource_json, resources_map, account_id, region_name):
        current.resource = (logical_id, resource_json.get("Type", ""))
        return original_create(logical_id, resource_json, resources_map, account_id, region_name)

    parsing.parse_and_create_resource = create_resource
    original_execute = CloudFormationBackend.execute_change_set

    def resource_event(stack, logical_id, kind, status, reason):
        stack.events.append(Event(stack_id=stack.stack_id, stack_name=stack.name,
                                  logical_resource_id=logical_id, physical_resource_id="",
                                  resource_type=kind, resource_status=status,
                                  resource_status_reason=reason, resource_properties=None))

    def state_of(backend, change_set_name):
        change_set = next((c for c in backend.change_sets.values()
                           if change_set_name in (c.change_set_id, c.change_set_name)), None)
        if change_set is None or change_set.change_set_type == "CREATE":
            return None
        stack = backend.stacks.get(change_set.stack_id)
        if stack is None:
            return None
        rm = stack.resource_map
        return (rm, rm._template, rm._resource_json_map, dict(rm.input_parameters or {}),
                dict.copy(rm._parsed_resources))

    def restore(saved):
        rm, template, resources, parameters, parsed = saved
        for logical_id, made in list(dict.items(rm._parsed_resources)):
            if logical_id in parsed or logical_id not in rm._resource_json_map:
                continue
            if made is None or isinstance(made, str) or callable(made):
                continue
            try:
                rm._delete_resource(made, rm._resource_json_map[logical_id])
            except Exception:
                pass
        rm._template, rm._resource_json_map, rm.input_parameters = template, resources, parameters
        rm._parsed_resources.clear()
        dict.update(rm._parsed_resources, parsed)
        rm.load_mapping()
        rm.load_parameters()
        rm.load_conditions()

    def finish(succeeded):
        hooks, current.after, current.execution = current.after, [], None
        for success, failure in reversed(hooks):
            try:
                (success if succeeded else failure)()
            except Exception:  # a rollback step that cannot run leaves what it could not undo
                pass

    def execute(self, change_set_name, stack_name=None):
        current.resource = None
        current.execution = next(_tokens)
        current.after = []
        saved = state_of(self, change_set_name)
        try:
            result = original_execute(self, change_set_name, stack_name)
            finish(True)
            # moto keeps the parsed template (and so the outputs) from before the change set.
            for change_set in self.change_sets.values():
                if change_set_name in (change_set.change_set_id, change_set.change_set_name):
                    stack = self.stacks[change_set.stack_id]
                    stack.template = change_set.template
                    stack._parse_template()
                    stack.output_map = stack._create_output_map()
            return result
        except Exception as e:  # what CloudFormation reports as a failed resource
            finish(False)
            change_set = next((c for c in self.change_sets.values()
                               if change_set_name in (c.change_set_id, c.change_set_name)), None)
            if change_set is None:
                raise
            stack = self.stacks[change_set.stack_id]
            logical_id, kind = current.resource or (stack.name, "AWS::CloudFormation::Stack")
            reason = getattr(e, "message", None) or str(e) or type(e).__name__
            creating = change_set.change_set_type == "CREATE"
            resource_event(stack, logical_id, kind, "CREATE_FAILED" if creating else "UPDATE_FAILED", reason)
            if creating:
                stack._add_stack_event("ROLLBACK_IN_PROGRESS",
                                       resource_status_reason=f"The following resource(s) failed to create: [{logical_id}]. Rollback requested by user.")
                try:
                    stack.resource_map.delete()
                except Exception:
                    pass
                stack.status = "ROLLBACK_COMPLETE"
                stack._add_stack_event("ROLLBACK_COMPLETE")
            else:
                if saved is not None:
                    restore(saved)
                stack._add_stack_event("UPDATE_ROLLBACK_IN_PROGRESS",
                                       resource_status_reason=f"The following resource(s) failed to update: [{logical_id}].")
                stack.status = "UPDATE_ROLLBACK_COMPLETE"
                stack._add_stack_event("UPDATE_ROLLBACK_COMPLETE")
            change_set.execution_status = "EXECUTE_FAILED"

    CloudFormationBackend.execute_change_set = execute
