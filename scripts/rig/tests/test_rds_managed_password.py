"""patches/rds_managed_password.py: ManageMasterUserPassword, and PostgreSQL's port."""
from rig.tests.support import CloudTest

TEMPLATE = """
Resources:
  Db:
    Type: AWS::RDS::DBInstance
    Properties:
      DBInstanceIdentifier: db1
      Engine: postgres
      DBInstanceClass: db.t4g.micro
      MasterUsername: app
      ManageMasterUserPassword: true
      AllocatedStorage: "20"
Outputs:
  SecretArn:
    Value: {"Fn::GetAtt": [Db, MasterUserSecret.SecretArn]}
"""


class RdsManagedPassword(CloudTest):
    def test_master_user_secret(self):
        self.deploy("s", TEMPLATE)
        arn = self.outputs("s").get("SecretArn", "")
        self.assertTrue(arn.startswith("arn:aws:secretsmanager:"), arn)
        self.client("secretsmanager").describe_secret(SecretId=arn)

    def test_postgres_listens_on_5432(self):
        self.deploy("s", TEMPLATE.split("Outputs:")[0])
        db = self.client("rds").describe_db_instances(DBInstanceIdentifier="db1")["DBInstances"][0]
        self.assertEqual(db["Endpoint"]["Port"], 5432)
