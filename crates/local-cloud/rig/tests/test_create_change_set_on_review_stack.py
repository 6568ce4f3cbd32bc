"""patches/create_change_set_on_review_stack.py: one stack per name, however many CREATE
change sets."""
from botocore.exceptions import ClientError

from rig.tests.support import CloudTest

TEMPLATE = """
Resources:
  Topic:
    Type: AWS::SNS::Topic
"""


class CreateChangeSetOnReviewStack(CloudTest):
    def test_stack_in_review_is_reused(self):
        self.change_set("s", TEMPLATE)
        self.assertEqual(self.stack("s")["StackStatus"], "REVIEW_IN_PROGRESS")
        change_set = self.change_set("s", TEMPLATE)
        self.cfn.execute_change_set(StackName="s", ChangeSetName=change_set["ChangeSetId"])
        self.assertEqual(self.stack("s")["StackStatus"], "CREATE_COMPLETE")
        self.assertEqual(len(self.cfn.describe_stacks()["Stacks"]), 1)

    def test_live_stack_is_not_created_again(self):
        self.deploy("s", TEMPLATE)
        with self.assertRaisesRegex(ClientError, "already exists"):
            self.change_set("s", TEMPLATE)
        self.assertEqual(len(self.cfn.describe_stacks()["Stacks"]), 1)
