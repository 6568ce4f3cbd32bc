"""rig/lambda_code.py's Invoke probe: shipit's local runtime runs a version only when it exists
(the probe comes after IAM, which rig/function_identity.py judges)."""
import json

from rig import lambda_code
from rig.tests.support import REGION, CloudTest, package


def probe(path, query=""):
    return lambda_code.invocable({
        "PATH_INFO": "/2015-03-31/functions/" + path, "QUERY_STRING": query,
        "HTTP_AUTHORIZATION": (f"AWS4-HMAC-SHA256 Credential=AKIA/20261207/{REGION}/lambda/"
                               "aws4_request, SignedHeaders=host, Signature=0")})


class InvokeProbe(CloudTest):
    def test_only_an_existing_function_and_version_may_run(self):
        role = self.client("iam").create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        lam = self.client("lambda")
        lam.create_function(FunctionName="fn", Runtime="python3.12", Role=role,
                            Handler="index.handler", Code={"ZipFile": package()}, Publish=True)
        lam.create_alias(FunctionName="fn", Name="live", FunctionVersion="1")
        for path, query in [("fn/invocations", "Qualifier=1"), ("fn:1/invocations", ""),
                            ("fn/invocations", "Qualifier=live"), ("fn/invocations", "")]:
            self.assertEqual(probe(path, query)[0], "204 No Content", (path, query))
        for path, query in [("fn/invocations", "Qualifier=9"), ("other/invocations", ""),
                            ("fn/invocations", "Qualifier=staging"), ("fn/aliases", "")]:
            status, headers, body = probe(path, query)
            self.assertEqual(status, "404 Not Found", (path, query))
            self.assertIn(("x-amzn-ErrorType", "ResourceNotFoundException"), headers)
            self.assertIn("Function not found", json.loads(body)["Message"])
