"""patches/list_stack_resources.py: ListStackResources names every resource the stack has (its
logical id, type and physical id), and leaves out a resource whose Condition is false."""
from rig.tests.support import CloudTest

TEMPLATE = """
Parameters:
  WithQueue:
    Type: String
    Default: "false"
Conditions:
  Queue: !Equals [!Ref WithQueue, "true"]
Resources:
  Topic:
    Type: AWS::SNS::Topic
  Queue:
    Type: AWS::SQS::Queue
    Condition: Queue
  Log:
    Type: AWS::Logs::LogGroup
"""


class ListStackResources(CloudTest):
    def listed(self, name):
        pages = self.cfn.get_paginator("list_stack_resources").paginate(StackName=name)
        return {(r["LogicalResourceId"], r["ResourceType"], bool(r.get("PhysicalResourceId")))
                for page in pages for r in page["StackResourceSummaries"]}

    def test_each_resource_is_named_and_a_false_condition_is_not_listed(self):
        self.deploy("s", TEMPLATE)
        self.assertEqual(self.listed("s"), {("Topic", "AWS::SNS::Topic", True),
                                            ("Log", "AWS::Logs::LogGroup", True)})

    def test_a_condition_made_true_lists_its_resource(self):
        self.deploy("s", TEMPLATE, {"WithQueue": "true"})
        self.assertIn(("Queue", "AWS::SQS::Queue", True), self.listed("s"))

    def test_a_condition_made_false_by_an_update_is_not_listed(self):
        self.deploy("s", TEMPLATE, {"WithQueue": "true"})
        self.deploy("s", TEMPLATE, {"WithQueue": "false"}, kind="UPDATE")
        self.assertNotIn("Queue", {name for name, _, _ in self.listed("s")})
