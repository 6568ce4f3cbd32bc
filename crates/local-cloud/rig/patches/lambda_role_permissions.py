"""Lambda refuses a function whose execution role cannot do what its configuration needs.

On AWS: CreateFunction and UpdateFunctionConfiguration (and so CloudFormation's
AWS::Lambda::Function, create or update) fail with InvalidParameterValueException when
- TracingConfig.Mode is Active and the role may not call xray:PutTraceSegments and
  xray:PutTelemetryRecords: "The provided execution role does not have permissions to call
  PutTraceSegments on XRAY";
- VpcConfig names subnets and the role may not call ec2:CreateNetworkInterface,
  ec2:DescribeNetworkInterfaces and ec2:DeleteNetworkInterface: "The provided execution role does
  not have permissions to call CreateNetworkInterface on EC2".
An AWS::IAM::Role's ManagedPolicyArns are attached to the role, and every AWS managed policy
(arn:aws:iam::aws:policy/...) exists.
In moto: neither check is made. Its CloudFormation role ignores ManagedPolicyArns (and, on update,
Policies too), AWS managed policies exist only with MOTO_IAM_LOAD_MANAGED_POLICIES=true (else
AttachRolePolicy answers NoSuchEntity), its CloudFormation function drops TracingConfig, and
UpdateFunctionConfiguration ignores TracingConfig.
The patch:
- before moto creates a function (CreateFunction, or the CloudFormation resource) or applies a
  configuration update that names Role, TracingConfig or VpcConfig (UpdateFunctionConfiguration,
  or a CloudFormation update), evaluates the resulting role, tracing and VPC configuration: the
  role's inline policies and the default versions of its attached managed policies (and its
  permissions boundary, if it has one) must allow each action above on Resource "*", with no
  explicit Deny; the first action not allowed is named in moto's InvalidParameterValueException.
  A role that is not in moto's IAM is left to moto ("The role defined for the function cannot be
  assumed by Lambda." on create; an update does not look the role up);
- records TracingConfig on the function (CloudFormation create and update, and
  UpdateFunctionConfiguration), so later updates are judged against it and it reads back;
- AWS managed policies: an ARN moto did not load is made from moto's own copy of the AWS managed
  policies (moto.iam.aws_managed_policies) when a role is attached to it;
- CloudFormation roles: ManagedPolicyArns are attached on create (a missing policy fails the role,
  as on AWS), Policies and ManagedPolicyArns follow the template on update, and managed policies
  are detached before the role is deleted (moto refuses to delete a role with policies attached).
The evaluation is rig.iam's, with Resource "*" (a statement naming only specific ARNs does not
count): a statement with a Condition that could change the answer is not guessed at, and the
call fails with CannotEvaluate, naming the policy.
Not confirmed against AWS (the messages seen in the wild name PutTraceSegments and
CreateNetworkInterface): the message for a role lacking only a later action (it names that
action here), which check AWS reports first when both fail (tracing, here), and whether an update
that changes only Role is judged against the function's tracing and VPC (it is, here).
"""

from rig.iam import (CannotEvaluate, as_list, decide, default_document, managed_policy,
                     role_policies)
from rig.moto_version import check

REQUIREMENTS = {
    # what Lambda needs of the role, in the order checked: (IAM action, service in the message)
    "tracing": (("xray:PutTraceSegments", "XRAY"), ("xray:PutTelemetryRecords", "XRAY")),
    "vpc": (("ec2:CreateNetworkInterface", "EC2"), ("ec2:DescribeNetworkInterfaces", "EC2"),
            ("ec2:DeleteNetworkInterface", "EC2")),
}


def required_actions(tracing, vpc):
    """(action, service) pairs that a function with this TracingConfig and VpcConfig needs."""
    needed = []
    if isinstance(tracing, dict) and tracing.get("Mode") == "Active":
        needed += REQUIREMENTS["tracing"]
    if isinstance(vpc, dict) and vpc.get("SubnetIds"):
        needed += REQUIREMENTS["vpc"]
    return needed


def check_role(iam_backend, role_arn, tracing, vpc):
    """Raise moto's InvalidParameterValueException as Lambda does when the role `role_arn`
    cannot do what TracingConfig `tracing` and VpcConfig `vpc` need. A role moto's IAM does not
    have (or a malformed ARN) is left to moto."""
    from moto.awslambda.exceptions import InvalidParameterValueException
    from moto.iam.exceptions import NotFoundException

    needed = required_actions(tracing, vpc)
    if not needed or not isinstance(role_arn, str):
        return
    try:
        role = iam_backend.get_role_by_arn(role_arn)
    except NotFoundException:
        return
    identity = role_policies(role)
    boundary = None
    if role.permissions_boundary_arn:
        policy = managed_policy(iam_backend, role.permissions_boundary_arn)
        if policy is None:
            raise CannotEvaluate(f"role {role.name}'s permissions boundary "
                                 f"{role.permissions_boundary_arn} is not in moto's IAM")
        boundary = [(policy.arn, default_document(policy))]
    for action, service in needed:
        ok = decide(identity, action) == "allow"
        if ok and boundary is not None:
            ok = decide(boundary, action) == "allow"
        if not ok:
            raise InvalidParameterValueException(
                "The provided execution role does not have permissions to call "
                f"{action.split(':', 1)[1]} on {service}")


def apply():
    """Check the moto version, then patch it as above (rig.install() calls this once)."""
    check(__name__)
    from moto.awslambda.models import LambdaBackend, LambdaFunction
    from moto.iam.exceptions import NotFoundException
    from moto.iam.models import IAMBackend, Role, iam_backends
    from moto.utilities.utils import get_partition

    def iam_for(account_id, region_name):
        return iam_backends[account_id][get_partition(region_name)]

    # The Lambda API.
    original_create_function = LambdaBackend.create_function
    original_update_configuration = LambdaBackend.update_function_configuration

    def create_function(self, spec):
        check_role(iam_for(self.account_id, self.region_name), spec.get("Role"),
                   spec.get("TracingConfig"), spec.get("VpcConfig"))
        return original_create_function(self, spec)

    def update_function_configuration(self, function_name, qualifier, body):
        if {"Role", "TracingConfig", "VpcConfig"} & set(body):
            fn = self.get_function(function_name, qualifier)
            check_role(iam_for(self.account_id, self.region_name), body.get("Role", fn.role),
                       body.get("TracingConfig", fn.tracing_config),
                       body["VpcConfig"] if "VpcConfig" in body else fn._vpc_config)
            if body.get("TracingConfig"):
                fn.tracing_config = body["TracingConfig"]
        return original_update_configuration(self, function_name, qualifier, body)

    LambdaBackend.create_function = create_function
    LambdaBackend.update_function_configuration = update_function_configuration

    # AWS::Lambda::Function: moto passes no TracingConfig to create_function, and its update
    # calls the function's update_configuration, not the backend's.
    original_fn_create = LambdaFunction.create_from_cloudformation_json.__func__
    original_fn_update = LambdaFunction.update_from_cloudformation_json.__func__

    def fn_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        props = cloudformation_json.get("Properties", {})
        check_role(iam_for(account_id, region_name), props.get("Role"),
                   props.get("TracingConfig"), props.get("VpcConfig"))
        fn = original_fn_create(cls, resource_name, cloudformation_json, account_id,
                                region_name, **kwargs)
        fn.tracing_config = props.get("TracingConfig") or {"Mode": "PassThrough"}
        return fn

    def fn_update(cls, original_resource, new_resource_name, cloudformation_json, account_id,
                  region_name):
        props = cloudformation_json.get("Properties", {})
        check_role(iam_for(account_id, region_name), props.get("Role"),
                   props.get("TracingConfig"), props.get("VpcConfig"))
        fn = original_fn_update(cls, original_resource, new_resource_name, cloudformation_json,
                                account_id, region_name)
        fn.tracing_config = props.get("TracingConfig") or {"Mode": "PassThrough"}
        return fn

    LambdaFunction.create_from_cloudformation_json = classmethod(fn_create)
    LambdaFunction.update_from_cloudformation_json = classmethod(fn_update)

    # AWS managed policies, made when first attached.
    original_attach = IAMBackend.attach_role_policy

    def attach_role_policy(self, policy_arn, role_name):
        managed_policy(self, policy_arn)
        return original_attach(self, policy_arn, role_name)

    IAMBackend.attach_role_policy = attach_role_policy

    # AWS::IAM::Role: ManagedPolicyArns, and Policies on update.
    original_role_create = Role.create_from_cloudformation_json.__func__
    original_role_update = Role.update_from_cloudformation_json.__func__
    original_role_delete = Role.delete_from_cloudformation_json.__func__

    def managed_arns(backend, props):
        arns = [arn for arn in as_list(props.get("ManagedPolicyArns")) if arn]
        for arn in arns:
            if managed_policy(backend, arn) is None:
                raise NotFoundException(f"Policy {arn} does not exist or is not attachable.")
        return arns

    def role_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        backend = iam_for(account_id, region_name)
        arns = managed_arns(backend, cloudformation_json.get("Properties", {}))
        role = original_role_create(cls, resource_name, cloudformation_json, account_id,
                                    region_name, **kwargs)
        for arn in arns:
            backend.attach_role_policy(arn, role.name)
        return role

    def role_update(cls, original_resource, new_resource_name, cloudformation_json, account_id,
                    region_name):
        backend = iam_for(account_id, region_name)
        props = cloudformation_json.get("Properties", {})
        arns = managed_arns(backend, props)
        role = original_role_update(cls, original_resource, new_resource_name,
                                    cloudformation_json, account_id, region_name)
        inline = {p["PolicyName"]: p["PolicyDocument"] for p in as_list(props.get("Policies"))}
        for name in list(role.policies):
            if name not in inline:
                role.delete_policy(name)
        for name, doc in inline.items():
            role.put_policy(name, doc)
        for arn in list(role.managed_policies):
            if arn not in arns:
                backend.detach_role_policy(arn, role.name)
        for arn in arns:
            if arn not in role.managed_policies:
                backend.attach_role_policy(arn, role.name)
        return role

    def role_delete(cls, resource_name, cloudformation_json, account_id, region_name):
        backend = iam_for(account_id, region_name)
        for role in list(backend.roles.values()):
            if role.name == resource_name:
                for arn in list(role.managed_policies):
                    backend.detach_role_policy(arn, role.name)
        return original_role_delete(cls, resource_name, cloudformation_json, account_id,
                                    region_name)

    Role.create_from_cloudformation_json = classmethod(role_create)
    Role.update_from_cloudformation_json = classmethod(role_update)
    Role.delete_from_cloudformation_json = classmethod(role_delete)
