"""The rig: what moto lacks and shipit needs, installed into moto before its server starts.

- models/: the CloudFormation resource types moto skips, created in moto's own backends (one
  file per service; `RIG`, in models/base.py, records what they made for GET /_shipit/resources).
- patches/: one file per fix to moto's own behaviour, each saying what AWS does, what moto does
  and what the patch changes (patches/__init__.py lists them in the order they are applied).
- iam.py: IAM's evaluation of identity policies, as far as the patches and function_identity
  need it (a role's policies, its boundary, explicit Deny over Allow; Conditions not guessed).
- function_identity.py, lambda_code.py, account.py, datatier.py, ecs_tasks.py: what the local
  cloud answers beside moto (who a request signed with a function's or a task's credentials
  is, a version's code for the local Lambda runtime, the account's limits, the real PostgreSQL
  and Redis servers, an ECS service's tasks run as processes behind their health checks).
- moto_version.py: the moto version all of it is written against; each file checks it first.
- tests/: a test per patch and one for the models (crates/local-cloud/rig/test runs them).

Importing this package imports no moto (scripts/local-cloud reads the pin before moto is
installed); install() does the rest.
"""

_installed = set()


def install(without=()):
    """Register the models and apply every patch, once (a second call does nothing more).
    `without` names parts to leave out ("models", or a patch's file name without .py), so a
    test can show what moto does without them."""
    import importlib

    from rig.patches import PATCHES

    unknown = set(without) - {"models", *PATCHES}
    if unknown:
        raise ValueError(f"rig.install: no part named {', '.join(sorted(unknown))}")
    for name in ("models",) + PATCHES:
        if name in without or name in _installed:
            continue
        if name == "models":
            importlib.import_module("rig.models")  # defining the classes registers them
        else:
            importlib.import_module(f"rig.patches.{name}").apply()
        _installed.add(name)
