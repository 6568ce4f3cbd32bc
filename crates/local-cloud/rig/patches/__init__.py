"""The rig's fixes to moto's own behaviour, one file per patch.

Each file says what AWS does, what moto does instead and what the patch changes, and has an
apply() that checks the moto version (rig/moto_version.py) before patching anything; each has a
test in rig/tests/ showing the behaviour it fixes. rig.install() applies them in this order.
"""

PATCHES = (
    "short_getatt",
    "mock_integration",
    "rds_managed_password",
    "change_set_diff",
    "bucket_properties",
    "rollback",
    "depends_on",
    "termination_protection",
    "network_deletes",
    "create_change_set_on_review_stack",
    "s3_policy",
    "lambda_role_permissions",
    "api_deployment",
    "lambda_environment_strings",
    "account_limits",
    "lambda_code_version",
    "service_role_permissions",
    "lambda_alias_revision",
    "list_stack_resources",
    "ecs_service",
    "target_health",
    "log_group_arn",
    "template_rules",
    "template_size",
)
