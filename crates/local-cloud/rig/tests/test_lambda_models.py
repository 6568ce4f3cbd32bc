"""rig/models/awslambda.py: AWS::Lambda::Version answers Ref (its ARN) and GetAtt Version, and
AWS::Lambda::Alias exists, answers Ref (its ARN), and keeps its ARN when updated."""
import io
import zipfile

from rig.tests.support import CloudTest, function_resources

TEMPLATE = """
Parameters:
  Start: {Type: String, Default: "1"}
Resources:
""" + function_resources() + """  First:
    Type: AWS::Lambda::Version
    Properties: {FunctionName: !Ref Fn}
  Live:
    Type: AWS::Lambda::Alias
    Properties: {FunctionName: !Ref Fn, Name: live, FunctionVersion: !GetAtt First.Version}
Outputs:
  Version: {Value: !GetAtt First.Version}
  VersionArn: {Value: !Ref First}
  AliasArn: {Value: !Ref Live}
  Fn: {Value: !Ref Fn}
"""


class LambdaModels(CloudTest):
    def test_a_version_and_the_alias_that_names_it(self):
        self.deploy("s", TEMPLATE)
        out = self.outputs("s")
        self.assertEqual(out["Version"], "1")
        self.assertTrue(out["VersionArn"].endswith(f":function:{out['Fn']}:1"), out)
        self.assertTrue(out["AliasArn"].endswith(f":function:{out['Fn']}:live"), out)
        lam = self.client("lambda")
        alias = lam.get_alias(FunctionName=out["Fn"], Name="live")
        self.assertEqual(alias["FunctionVersion"], "1")
        # The Lambda API moves it; a stack update that leaves the alias alone keeps it there.
        lam.update_function_code(FunctionName=out["Fn"], ZipFile=_zip("def handler(e, c): return 2"))
        two = lam.publish_version(FunctionName=out["Fn"])["Version"]
        lam.update_alias(FunctionName=out["Fn"], Name="live", FunctionVersion=two)
        self.deploy("s", TEMPLATE.replace('Default: "1"', 'Default: "2"'), kind="UPDATE")
        self.assertEqual(lam.get_alias(FunctionName=out["Fn"], Name="live")["FunctionVersion"], two)
        self.cfn.delete_stack(StackName="s")


def _zip(code):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("index.py", code)
    return out.getvalue()
