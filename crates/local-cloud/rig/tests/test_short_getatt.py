"""patches/short_getatt.py: `!GetAtt A.B.C` and `!Condition X` in YAML."""
from rig.tests.support import CloudTest

DOTTED_ATTRIBUTE = """
Resources:
  Db:
    Type: AWS::RDS::DBInstance
    Properties:
      DBInstanceIdentifier: db1
      Engine: mysql
      DBInstanceClass: db.t4g.micro
      MasterUsername: app
      MasterUserPassword: not-a-secret-1
      AllocatedStorage: "20"
Outputs:
  Address:
    Value: !GetAtt Db.Endpoint.Address
"""

NESTED_CONDITION = """
Parameters:
  A: {Type: String, Default: "yes"}
  B: {Type: String, Default: "yes"}
Conditions:
  IsA: !Equals [!Ref A, "yes"]
  IsB: !Equals [!Ref B, "yes"]
  Both: !And [!Condition IsA, !Condition IsB]
Resources:
  Always:
    Type: AWS::SQS::Queue
  WhenBoth:
    Type: AWS::SQS::Queue
    Condition: Both
"""


class ShortGetAtt(CloudTest):
    def test_getatt_with_a_dotted_attribute(self):
        self.deploy("s", DOTTED_ATTRIBUTE)
        address = self.outputs("s").get("Address", "")
        self.assertTrue(address.startswith("db1."), address)

    def test_condition_built_from_conditions(self):
        self.deploy("s", NESTED_CONDITION)
        self.assertEqual(sorted(self.physical_ids("s")), ["Always", "WhenBoth"])
        self.deploy("t", NESTED_CONDITION, {"B": "no"})
        self.assertEqual(sorted(self.physical_ids("t")), ["Always"])
