"""patches/termination_protection.py: UpdateTerminationProtection, honoured by DeleteStack."""
from botocore.exceptions import ClientError

from rig.tests.support import CloudTest

TEMPLATE = """
Resources:
  Topic:
    Type: AWS::SNS::Topic
"""


class TerminationProtection(CloudTest):
    def test_protected_at_create(self):
        self.cfn.create_stack(StackName="s", TemplateBody=TEMPLATE,
                              EnableTerminationProtection=True)
        with self.assertRaisesRegex(ClientError, "TerminationProtection is enabled"):
            self.cfn.delete_stack(StackName="s")
        self.assertEqual(self.stack("s")["StackStatus"], "CREATE_COMPLETE")

    def test_update_termination_protection(self):
        self.deploy("s", TEMPLATE)
        self.cfn.update_termination_protection(StackName="s", EnableTerminationProtection=True)
        self.assertTrue(self.stack("s")["EnableTerminationProtection"])
        with self.assertRaisesRegex(ClientError, "TerminationProtection is enabled"):
            self.cfn.delete_stack(StackName="s")
        self.assertEqual(self.stack("s")["StackStatus"], "CREATE_COMPLETE")
        self.cfn.update_termination_protection(StackName="s", EnableTerminationProtection=False)
        self.cfn.delete_stack(StackName="s")
        self.assertEqual(self.client("sns").list_topics()["Topics"], [])
