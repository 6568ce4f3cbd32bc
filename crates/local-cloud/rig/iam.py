"""IAM's evaluation of identity policies, as far as the rig's checks need it: an explicit Deny
wins, then an Allow, else nothing allows it. Action/NotAction match with * and ? wildcards (no
case), Resource/NotResource with them (with case). A statement with a Condition that could
change the answer is not guessed at: the evaluation raises CannotEvaluate, naming the policy.
A role's policies are its inline policies and the default versions of its attached managed
policies; an AWS managed policy moto did not load is made from moto's own copy.

Used by the patches that judge a role as AWS would (lambda_role_permissions,
service_role_permissions) and by function_identity (what a function's role may call). The
stack's own policy files are judged by the fuller evaluator of tests/test_iam_policies.py, which
also reads Conditions.
"""

import json
import re

AWS_MANAGED_ARN = re.compile(r"arn:([\w-]+):iam::aws:policy(/(?:[^/]+/)*)([^/]+)")


class CannotEvaluate(NotImplementedError):
    """A policy statement the rig will not guess about decides the check."""


def wildcard(pattern, value, ignore_case):
    """IAM's matching: * is any run of characters, ? one character, all else literal."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in str(pattern))
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def as_list(value):
    """A policy element as a list, without the None that moto's CloudFormation leaves where a
    list item was !Ref AWS::NoValue (CloudFormation drops the item)."""
    if value is None:
        return []
    return [v for v in value if v is not None] if isinstance(value, list) else [value]


def document(doc):
    """A policy document as a dict: moto keeps inline policies as JSON text from the API and
    as the template's dict from CloudFormation."""
    return json.loads(doc) if isinstance(doc, (str, bytes)) else (doc or {})


def _covers(statement, element, value, ignore_case):
    """Whether the statement's `element` (Action or Resource), or its Not- form, covers `value`.
    A statement with neither covers nothing: it is not a valid identity policy statement."""
    if element in statement:
        return any(wildcard(p, value, ignore_case) for p in as_list(statement[element]))
    if "Not" + element in statement:
        return not any(wildcard(p, value, ignore_case)
                       for p in as_list(statement["Not" + element]))
    return False


def names_action(statement, action):
    """Whether the statement's Action (or NotAction) covers `action` (without case)."""
    return _covers(statement, "Action", action, True)


def applies(statement, action, resource="*"):
    """Whether the statement covers `action` on `resource` (ARNs with case)."""
    return names_action(statement, action) and _covers(statement, "Resource", resource, False)


def decide(policies, action, resource="*"):
    """"deny", "allow" or "none" (no statement allows it) for one action on `resource` (by
    default "*": only a statement on every resource counts, as Lambda's create-time check).
    policies: (name, document) pairs; a document is a dict or JSON text. Raises CannotEvaluate
    when a statement with a Condition could change the answer."""
    allowed = False
    conditional = {"Allow": [], "Deny": []}
    for name, doc in policies:
        for statement in as_list(document(doc).get("Statement")):
            if not isinstance(statement, dict):
                continue
            effect = statement.get("Effect")
            if effect not in ("Allow", "Deny") or not applies(statement, action, resource):
                continue
            if statement.get("Condition"):
                conditional[effect].append(name)
            elif effect == "Deny":
                return "deny"  # an explicit Deny wins whatever else applies
            else:
                allowed = True
    undecided = conditional["Deny"] or ([] if allowed else conditional["Allow"])
    if undecided:
        raise CannotEvaluate(
            f"the rig does not evaluate Condition, and {action} depends on one in "
            f"{', '.join(undecided)}")
    return "allow" if allowed else "none"


_aws_managed_data = None


def managed_policy(backend, arn):
    """The managed policy `arn` from moto's IAM `backend`, or None. An AWS managed policy that
    moto did not load (it loads none unless told to) is made from moto's copy and kept."""
    global _aws_managed_data
    policy = backend.managed_policies.get(arn)
    if policy is not None:
        return policy
    match = AWS_MANAGED_ARN.fullmatch(arn)
    if not match or match.group(1) != backend.partition:
        return None
    from moto.iam.aws_managed_policies import aws_managed_policies_data
    from moto.iam.models import AWSManagedPolicy

    if _aws_managed_data is None:
        _aws_managed_data = json.loads(aws_managed_policies_data)
    data = _aws_managed_data.get(match.group(3))
    if data is None or data.get("Path", "/") != match.group(2):
        return None
    policy = AWSManagedPolicy.from_data(match.group(3), backend.account_id, backend.region_name,
                                        data)
    if policy.arn != arn:
        return None
    backend.aws_managed_policies.append(policy)
    backend.managed_policies[arn] = policy
    return policy


def default_document(policy):
    for version in policy.versions:
        if version.is_default:
            return version.document
    return policy.versions[-1].document if policy.versions else "{}"


def role_policies(role):
    """(name, document) of the role's inline policies and attached managed policies."""
    policies = [(f"{role.name}/{name}", doc) for name, doc in role.policies.items()]
    policies += [(arn, default_document(p)) for arn, p in role.managed_policies.items()]
    return policies
