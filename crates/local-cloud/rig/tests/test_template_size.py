"""patches/template_size.py: a TemplateBody over 51,200 bytes is refused as on AWS; the same
template staged in S3 and named by TemplateURL is made."""
from botocore.exceptions import ClientError

from rig.tests.support import CloudTest

# A queue and a comment that takes the body past the limit.
BIG = "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n#" + "x" * 51_200 + "\n"


class TemplateSize(CloudTest):
    def test_a_large_body_is_refused_and_the_same_by_url_is_made(self):
        with self.assertRaises(ClientError) as e:
            self.cfn.create_change_set(StackName="s", ChangeSetName="c", ChangeSetType="CREATE",
                                       TemplateBody=BIG)
        self.assertEqual(e.exception.response["Error"]["Code"], "ValidationError")
        self.assertIn("less than or equal to 51200", e.exception.response["Error"]["Message"])
        with self.assertRaises(ClientError) as e:
            self.cfn.create_stack(StackName="s", TemplateBody=BIG)
        self.assertIn("less than or equal to 51200", e.exception.response["Error"]["Message"])
        self.assertEqual(self.cfn.list_stacks()["StackSummaries"], [])
        s3 = self.client("s3")
        s3.create_bucket(Bucket="templates")
        s3.put_object(Bucket="templates", Key="t/big.yaml", Body=BIG.encode())
        with self.assertRaises(ClientError):
            self.cfn.create_change_set(StackName="s", ChangeSetName="c", ChangeSetType="CREATE",
                                       TemplateURL="http://templates.s3.us-east-1.amazonaws.com/t/big.yaml")
        made = self.cfn.create_change_set(
            StackName="s", ChangeSetName="c", ChangeSetType="CREATE",
            TemplateURL="https://templates.s3.us-east-1.amazonaws.com/t/big.yaml")
        self.cfn.execute_change_set(StackName="s", ChangeSetName=made["Id"])
        self.assertEqual(self.stack("s")["StackStatus"], "CREATE_COMPLETE")
