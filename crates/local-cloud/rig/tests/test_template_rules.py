"""patches/template_rules.py: a change set whose parameters break a rule is refused with the
assertion's description, and nothing is made; one that keeps the rules is made."""
from botocore.exceptions import ClientError

from rig.tests.support import CloudTest

TEMPLATE = """Parameters:
  Backend: {Type: String, Default: function, AllowedValues: [function, container]}
  Image: {Type: String, Default: "", AllowedPattern: "^$|^[a-z]+@sha256:[a-f0-9]{4}$"}
  Data: {Type: String, Default: "true"}
Rules:
  ContainerNeedsAnImage:
    RuleCondition: !Equals [!Ref Backend, container]
    Assertions:
      - Assert: !And [!Equals [!Ref Data, "true"], !Not [!Equals [!Ref Image, ""]]]
        AssertDescription: a container backend needs the data tier and an image
  RegionKnown:
    Assertions:
      - Assert: !Contains [[us-east-1, eu-west-1], !Ref "AWS::Region"]
        AssertDescription: not a region this template is made for
Resources:
  Queue:
    Type: AWS::SQS::Queue
"""


class TemplateRules(CloudTest):
    def refused(self, params):
        with self.assertRaises(ClientError) as e:
            self.cfn.create_change_set(
                StackName="s", ChangeSetName="c", ChangeSetType="CREATE", TemplateBody=TEMPLATE,
                Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()])
        self.assertEqual(e.exception.response["Error"]["Code"], "ValidationError")
        return e.exception.response["Error"]["Message"]

    def test_a_broken_assertion_refuses_the_change_set_with_its_description(self):
        self.assertEqual(self.refused({"Backend": "container"}),
                         "a container backend needs the data tier and an image")
        self.assertEqual(self.refused({"Backend": "container", "Image": "api@sha256:ab12", "Data": "false"}),
                         "a container backend needs the data tier and an image")
        self.assertEqual(self.cfn.list_stacks()["StackSummaries"], [])

    def test_a_value_outside_its_pattern_is_refused(self):
        self.assertEqual(self.refused({"Backend": "container", "Image": "api:latest"}),
                         "Parameter 'Image' must match pattern ^$|^[a-z]+@sha256:[a-f0-9]{4}$")

    def test_rules_that_hold_or_do_not_apply_let_it_through(self):
        self.assertEqual(self.deploy("s", TEMPLATE)["StackStatus"], "CREATE_COMPLETE")
        self.assertEqual(self.deploy("t", TEMPLATE, {"Backend": "container", "Image": "api@sha256:ab12"})["StackStatus"],
                         "CREATE_COMPLETE")
