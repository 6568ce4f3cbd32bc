"""CloudFormation acts with the stack's service role: a resource whose handler needs an action
the role lacks is refused.

On AWS: with a service role (CreateChangeSet's RoleARN), CloudFormation's resource handlers call
the services as that role; an action its policies never allow fails the resource ("... is not
authorized to perform: ACTION"), and the stack rolls back.
In moto: the role is stored and never used; every resource is created whatever it may do.
The patch: while a stack with a service role is created or updated, each resource's create (or
update) handler permissions, as stack/handler-permissions.json records them from the registry
schemas, must each be allowed by some statement of the role's policies. Judged by action only:
a statement's resources and conditions are not evaluated here (crates/local-cloud/rig/tests/
test_handler_permissions.py judges them against this stack's ARNs), so what this refuses is a role
that lacks an action entirely, as CloudFormation would refuse it. The permissions the data file
lists as refused (never data, its erasure or sharing; properties the template does not set) are
not asked for, and neither are the types the file does not know.
"""
import fnmatch
import json
import threading
from pathlib import Path

from rig.moto_version import check

DATA = Path(__file__).resolve().parents[4] / "stack" / "handler-permissions.json"
_role = threading.local()
_data = None


def data():
    global _data
    if _data is None:
        _data = json.loads(DATA.read_text())
    return _data


def _refused(rtype, action):
    d = data()
    if action in d.get("granted_despite_pattern", []):
        return False
    return any(r["type"] in ("*", rtype) and fnmatch.fnmatchcase(action.lower(), r["pattern"].lower())
               for r in d.get("refused", []))


def needed(rtype, handler):
    """The handler permissions a resource of `rtype` needs from the role (refused ones left out)."""
    entry = data()["types"].get(rtype)
    if entry is None:
        return []
    return [a for a in entry.get(handler, []) if not _refused(rtype, a)]


def missing(policies, actions):
    """The actions no Allow statement of `policies` ((name, document) pairs) names."""
    from rig.iam import as_list, document, names_action

    allow = []
    for _, doc in policies:
        for st in as_list(document(doc).get("Statement")):
            if st.get("Effect") == "Allow":
                allow.append(st)
    return [a for a in actions if not any(names_action(st, a) for st in allow)]


class NotAuthorized(Exception):
    """What a resource handler meets when the service role lacks an action."""


def _check(rtype, handler):
    role = getattr(_role, "value", None)
    if not role:
        return
    account_id, role_arn = role
    from moto.iam.exceptions import NotFoundException
    from moto.iam.models import iam_backends
    from rig.iam import role_policies

    backend = iam_backends[account_id]["global"]
    try:
        iam_role = backend.get_role_by_arn(role_arn)
    except NotFoundException:
        raise NotAuthorized(f"Role {role_arn} is invalid or cannot be assumed")
    lacking = missing(role_policies(iam_role), needed(rtype, handler))
    if lacking:
        raise NotAuthorized(f"{role_arn} is not authorized to perform: {', '.join(lacking)} "
                            f"({rtype} {handler} handler)")


def apply():
    """Check the moto version, then patch it as above (rig.install() calls this once)."""
    check(__name__)
    from moto.cloudformation import parsing
    from moto.cloudformation.models import ChangeSet as FakeChangeSet, Stack as FakeStack

    original_apply = FakeChangeSet.apply
    original_create_resources = FakeStack.create_resources
    original_update = FakeStack.update
    original_create = parsing.parse_and_create_resource
    original_update_resource = parsing.parse_and_update_resource

    def with_role(stack, run, role_arn=None):
        previous = getattr(_role, "value", None)
        role_arn = role_arn or stack.role_arn
        _role.value = (stack.account_id, role_arn) if role_arn else None
        try:
            return run()
        finally:
            _role.value = previous

    def apply_change_set(self):
        # A change set runs with the role it was created with.
        return with_role(self.stack, lambda: original_apply(self), getattr(self, "role_arn", None))

    def create_resources(self, *args, **kwargs):
        return with_role(self, lambda: original_create_resources(self, *args, **kwargs))

    def update(self, *args, **kwargs):
        return with_role(self, lambda: original_update(self, *args, **kwargs))

    original_generate = parsing.parse_resource_and_generate_name

    def handling(handler, original):
        # The handler a resource goes through; judged once the resource is being made (inside
        # the rollback patch's record of it, so the failed resource's event names it).
        def run(logical_id, resource_json, resources_map, account_id, region_name):
            previous = getattr(_role, "handler", None)
            _role.handler = handler
            try:
                return original(logical_id, resource_json, resources_map, account_id, region_name)
            finally:
                _role.handler = previous
        return run

    def generate(logical_id, resource_json, resources_map):
        handler = getattr(_role, "handler", None)
        if handler:
            _check(resource_json.get("Type", ""), handler)
        return original_generate(logical_id, resource_json, resources_map)

    FakeChangeSet.apply = apply_change_set
    FakeStack.create_resources = create_resources
    FakeStack.update = update
    parsing.parse_and_create_resource = handling("create", original_create)
    parsing.parse_and_update_resource = handling("update", original_update_resource)
    parsing.parse_resource_and_generate_name = generate
