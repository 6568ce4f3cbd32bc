"""patches/change_set_diff.py: change sets list what CloudFormation would change."""
from rig.tests.support import CloudTest

TEMPLATE = """
Parameters:
  Env: {Type: String, Default: dev}
  Title: {Type: String, Default: one}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
Resources:
  Plain:
    Type: AWS::SNS::Topic
  Titled:
    Type: AWS::SNS::Topic
    Properties: {DisplayName: !Ref Title}
  Named:
    Type: AWS::S3::Bucket
    Properties: {BucketName: !If [IsProd, shipit-rig-prod, shipit-rig-dev]}
  ProdOnly:
    Type: AWS::SNS::Topic
    Condition: IsProd
"""


def changes(change_set):
    return sorted((c["ResourceChange"]["Action"], c["ResourceChange"]["LogicalResourceId"],
                   c["ResourceChange"].get("Replacement", ""))
                  for c in change_set["Changes"])


class ChangeSetDiff(CloudTest):
    def test_create_adds_what_its_conditions_allow(self):
        self.assertEqual(changes(self.change_set("s", TEMPLATE)),
                         [("Add", "Named", ""), ("Add", "Plain", ""), ("Add", "Titled", "")])

    def test_same_template_and_parameters_change_nothing(self):
        self.deploy("s", TEMPLATE)
        self.assertEqual(changes(self.change_set("s", TEMPLATE, kind="UPDATE")), [])

    def test_parameters_conditions_and_replacement(self):
        self.deploy("s", TEMPLATE)
        change_set = self.change_set("s", TEMPLATE, {"Env": "prod", "Title": "two"}, kind="UPDATE")
        self.assertEqual(changes(change_set), [("Add", "ProdOnly", ""),
                                               ("Modify", "Named", "True"),
                                               ("Modify", "Titled", "False")])


SWITCHED = """
Parameters:
  Backend: {Type: String, Default: function}
Conditions:
  IsContainer: !Equals [!Ref Backend, container]
Resources:
  Setting:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: !If [IsContainer, 60, 30]
Outputs:
  Url: {Value: !Ref Setting}
"""


class ExecutedDiff(CloudTest):
    def test_a_resource_that_depends_on_a_parameter_through_a_condition_is_updated(self):
        sqs = self.client("sqs")

        def timeout():
            url = self.outputs("s")["Url"]
            return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
                "Attributes"]["VisibilityTimeout"]

        self.deploy("s", SWITCHED)
        self.assertEqual(timeout(), "30")
        self.deploy("s", SWITCHED, {"Backend": "container"}, kind="UPDATE")
        self.assertEqual(timeout(), "60")

    def test_a_resource_whose_condition_names_the_region_stays(self):
        # The region is a pseudo parameter: a Condition on it is judged with the stack's own.
        template = """
Parameters:
  Label: {Type: String, Default: one}
Conditions:
  InHome: !Equals [!Ref "AWS::Region", us-east-1]
Resources:
  Regional:
    Type: AWS::SQS::Queue
    Condition: InHome
  Other:
    Type: AWS::SNS::Topic
    Properties: {DisplayName: !Ref Label}
"""
        self.deploy("r", template)
        self.assertEqual(len(self.client("sqs").list_queues().get("QueueUrls", [])), 1)
        self.deploy("r", template, {"Label": "two"}, kind="UPDATE")
        self.assertEqual(len(self.client("sqs").list_queues().get("QueueUrls", [])), 1)
