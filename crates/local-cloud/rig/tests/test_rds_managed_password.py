"""patches/rds_managed_password.py: ManageMasterUserPassword, PostgreSQL's port, resource ids."""
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

    def test_each_instance_has_its_own_resource_id(self):
        template = TEMPLATE.replace("SecretArn:", "ResourceId:").replace(
            "[Db, MasterUserSecret.SecretArn]", "[Db, DbiResourceId]")
        self.deploy("s", template)
        self.deploy("t", template.replace("db1", "db2"))
        ids = [self.outputs(n).get("ResourceId", "") for n in ("s", "t")]
        for i in ids:
            self.assertRegex(i, r"^db-[A-Z0-9]{26}$")
        self.assertNotEqual(ids[0], ids[1])
        described = self.client("rds").describe_db_instances(DBInstanceIdentifier="db2")
        self.assertEqual(described["DBInstances"][0]["DbiResourceId"], ids[1])

    def test_postgres_listens_on_5432(self):
        self.deploy("s", TEMPLATE.split("Outputs:")[0])
        db = self.client("rds").describe_db_instances(DBInstanceIdentifier="db1")["DBInstances"][0]
        self.assertEqual(db["Endpoint"]["Port"], 5432)
