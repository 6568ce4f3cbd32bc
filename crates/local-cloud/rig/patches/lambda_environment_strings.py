"""A function's environment variables are strings.

On AWS: Lambda's Environment.Variables map strings to strings; CloudFormation turns a number it
resolved (a GetAtt of a port, say) into its string, and GetFunctionConfiguration, PublishVersion
and UpdateFunctionConfiguration answer strings.
In moto: the value is kept as CloudFormation resolved it, so a `!GetAtt Database.Endpoint.Port`
comes back as a JSON number, which typed SDKs refuse to read (the Rust SDK fails the whole
response: "expected ValueString or ValueNull").
The patch: the variables are made strings when a function is created (API or CloudFormation) and
when its configuration is updated.
"""
import json

from rig.moto_version import check


def as_strings(variables):
    """The variables with every value a string (numbers and booleans as JSON writes them)."""
    if not isinstance(variables, dict):
        return variables
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in variables.items()}


def apply():
    check(__name__)
    from moto.awslambda.models import LambdaFunction

    original_init = LambdaFunction.__init__
    original_update = LambdaFunction.update_configuration

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.environment_vars = as_strings(self.environment_vars)

    def update_configuration(self, config_updates):
        result = original_update(self, config_updates)
        self.environment_vars = as_strings(self.environment_vars)
        return result

    LambdaFunction.__init__ = init
    LambdaFunction.update_configuration = update_configuration
