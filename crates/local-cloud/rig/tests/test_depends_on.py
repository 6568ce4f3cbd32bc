"""patches/depends_on.py: what a resource DependsOn is made first, also when an update turns
the resources' Condition true (moto then makes them in the template's order)."""
import moto.cloudformation.parsing as parsing

from rig.tests.support import CloudTest

TEMPLATE = """
Parameters:
  Wanted: {Type: String, Default: "no"}
Conditions:
  IsOn: !Equals [!Ref Wanted, "yes"]
Resources:
  Anchor:
    Type: AWS::SNS::Topic
  Later:
    Type: AWS::SQS::Queue
    Condition: IsOn
    DependsOn: First
  First:
    Type: AWS::SQS::Queue
    Condition: IsOn
"""


class DependsOn(CloudTest):
    def test_an_update_makes_what_a_resource_depends_on_first(self):
        made = []
        inner = parsing.parse_and_create_resource

        def recording(logical_id, *args, **kwargs):
            result = inner(logical_id, *args, **kwargs)
            made.append(logical_id)  # in the order each is finished
            return result

        parsing.parse_and_create_resource = recording
        self.addCleanup(setattr, parsing, "parse_and_create_resource", inner)
        self.deploy("s", TEMPLATE)
        made.clear()
        self.deploy("s", TEMPLATE, {"Wanted": "yes"}, kind="UPDATE")
        self.assertIn("Later", made)
        self.assertLess(made.index("First"), made.index("Later"), made)
