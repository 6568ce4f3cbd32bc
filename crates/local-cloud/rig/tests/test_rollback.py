"""patches/rollback.py: a failing resource fails the stack, which rolls back; an executed change
set leaves the stack with the new template's outputs."""
from rig.tests.support import CloudTest

GOOD = """
Resources:
  Good:
    Type: AWS::SNS::Topic
Outputs:
  Version:
    Value: one
"""

BAD = """
Resources:
  Good:
    Type: AWS::SNS::Topic
  Bad:
    Type: AWS::SQS::Queue
    DependsOn: Good
    Properties: {QueueName: "not a queue name"}
"""


class Rollback(CloudTest):
    def events(self, stack):
        return [(e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason", ""))
                for e in self.cfn.describe_stack_events(StackName=stack)["StackEvents"]]

    def test_failed_create_rolls_back(self):
        self.assertEqual(self.deploy("s", BAD)["StackStatus"], "ROLLBACK_COMPLETE")
        failed = [e for e in self.events("s") if e[1] == "CREATE_FAILED"]
        self.assertEqual([e[0] for e in failed], ["Bad"])
        self.assertIn("alphanumeric", failed[0][2])
        self.assertEqual(self.client("sns").list_topics()["Topics"], [])

    def test_failed_update_rolls_back(self):
        self.deploy("s", GOOD)
        status = self.deploy("s", BAD, kind="UPDATE")["StackStatus"]
        self.assertEqual(status, "UPDATE_ROLLBACK_COMPLETE")
        self.assertIn("UPDATE_FAILED", [e[1] for e in self.events("s") if e[0] == "Bad"])

    def test_outputs_follow_the_template(self):
        self.deploy("s", GOOD)
        self.assertEqual(self.outputs("s"), {"Version": "one"})
        self.deploy("s", GOOD.replace("Value: one", "Value: two"), kind="UPDATE")
        self.assertEqual(self.outputs("s"), {"Version": "two"})

    def test_a_failed_update_keeps_the_stack_as_it_was(self):
        # The update adds a topic, then fails: the topic goes, and the stack's outputs (and a
        # DescribeStacks that reads them) are the old template's.
        self.deploy("s", GOOD)
        bad = BAD.replace("  Good:\n", "  Added:\n    Type: AWS::SNS::Topic\n  Good:\n") + \
            "Outputs:\n  Version:\n    Value: !Ref Added\n"
        self.assertEqual(self.deploy("s", bad, kind="UPDATE")["StackStatus"],
                         "UPDATE_ROLLBACK_COMPLETE")
        self.assertEqual(self.outputs("s"), {"Version": "one"})
        self.assertEqual(len(self.client("sns").list_topics()["Topics"]), 1)
