"""patches/lambda_alias_revision.py: an alias update naming an old RevisionId is refused, and
every update makes a new one, so two moves that read the same alias cannot both land."""

from botocore.exceptions import ClientError

from rig.tests.support import CloudTest, package


class AliasRevision(CloudTest):
    def test_a_move_based_on_an_old_read_is_refused(self):
        iam, lam = self.client("iam"), self.client("lambda")
        role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        lam.create_function(FunctionName="fn", Runtime="python3.12", Role=role,
                            Handler="index.handler", Code={"ZipFile": package()}, Publish=True)
        lam.publish_version(FunctionName="fn")  # the same code: version 1 again
        lam.update_function_configuration(FunctionName="fn", MemorySize=256)
        two = lam.publish_version(FunctionName="fn")["Version"]
        lam.create_alias(FunctionName="fn", Name="live", FunctionVersion="1")
        seen = lam.get_alias(FunctionName="fn", Name="live")["RevisionId"]
        moved = lam.update_alias(FunctionName="fn", Name="live", FunctionVersion=two,
                                 RevisionId=seen)
        self.assertNotEqual(moved["RevisionId"], seen, "a change makes a new revision")
        with self.assertRaises(ClientError) as refused:
            lam.update_alias(FunctionName="fn", Name="live", FunctionVersion="1", RevisionId=seen)
        self.assertEqual(refused.exception.response["Error"]["Code"], "PreconditionFailedException")
        self.assertEqual(refused.exception.response["ResponseMetadata"]["HTTPStatusCode"], 412)
        self.assertEqual(lam.get_alias(FunctionName="fn", Name="live")["FunctionVersion"], two)
        # Without a RevisionId, Lambda does not compare.
        lam.update_alias(FunctionName="fn", Name="live", FunctionVersion="1")
        self.assertEqual(lam.get_alias(FunctionName="fn", Name="live")["FunctionVersion"], "1")
