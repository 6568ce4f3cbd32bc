"""patches/lambda_environment_strings.py: a number CloudFormation resolved into a function's
environment reads back as a string, as Lambda answers it."""
from rig.tests.support import CloudTest, function_resources

TEMPLATE = "Resources:\n" + function_resources(
    "      FunctionName: fn\n"
    "      Environment: {Variables: {PORT: 5432, ENABLED: true, NAME: db}}\n")


class EnvironmentStrings(CloudTest):
    def test_every_value_is_a_string(self):
        self.deploy("s", TEMPLATE)
        lam = self.client("lambda")
        want = {"PORT": "5432", "ENABLED": "true", "NAME": "db"}
        self.assertEqual(lam.get_function_configuration(FunctionName="fn")["Environment"]["Variables"], want)
        self.assertEqual(lam.publish_version(FunctionName="fn")["Environment"]["Variables"], want)
