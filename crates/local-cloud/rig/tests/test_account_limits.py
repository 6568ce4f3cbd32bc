"""patches/account_limits.py and rig/account.py: the local cloud set to a small or old account
answers the preflight's calls as AWS would, and refuses the same creates as AWS."""
import io
import json

from rig import account
from rig.tests.support import CloudTest, function_resources

RESERVED = function_resources(extra="      ReservedConcurrentExecutions: 20\n")

DATABASE = """Resources:
  Db:
    Type: AWS::RDS::DBInstance
    Properties:
      Engine: postgres
      EngineVersion: "{version}"
      DBInstanceClass: {klass}
      AllocatedStorage: "20"
      MasterUsername: shipit
      MasterUserPassword: a-long-password
"""

CACHE = """Resources:
  Cache:
    Type: AWS::ElastiCache::ReplicationGroup
    Properties:
      ReplicationGroupDescription: cache
      Engine: redis
      CacheNodeType: {node}
      NumCacheClusters: 1
"""


def environ(service, method="POST", path="/", body=b"", target=None):
    env = {"HTTP_AUTHORIZATION": f"AWS4-HMAC-SHA256 Credential=k/20260101/us-east-1/{service}/aws4_request, "
                                 "SignedHeaders=host, Signature=0",
           "REQUEST_METHOD": method, "PATH_INFO": path, "wsgi.input": io.BytesIO(body)}
    if target:
        env["HTTP_X_AMZ_TARGET"] = target
    return env


def ask(service, body=b"", **kw):
    answer = account.answer(environ(service, body=body, **kw), lambda: body, lambda region: ["us-east-1a", "us-east-1b"])
    return None if answer is None else (answer[0], answer[2].decode())


class AccountLimits(CloudTest):
    def setUp(self):
        super().setUp()
        self.addCleanup(account.reset)

    def reason(self, stack):
        events = self.cfn.describe_stack_events(StackName=stack)["StackEvents"]
        return " ".join(e.get("ResourceStatusReason") or "" for e in events)

    def test_a_reservation_the_account_cannot_spare_is_refused(self):
        self.assertEqual(self.deploy("roomy", "Resources:\n" + RESERVED)["StackStatus"], "CREATE_COMPLETE")
        account.configure({"lambda_concurrency": 10})
        self.assertEqual(self.deploy("small", "Resources:\n" + RESERVED.replace("Fn:", "Fn2:").replace("Role:", "Role2:").replace("!GetAtt Role.", "!GetAtt Role2."))["StackStatus"],
                         "ROLLBACK_COMPLETE")
        self.assertIn("[Fn2]", self.reason("small"))
        # Lambda's own words, through its API.
        fn = self.physical_ids("roomy")["Fn"]
        with self.assertRaisesRegex(Exception, r"below its minimum value of \[100\]"):
            self.client("lambda").put_function_concurrency(FunctionName=fn, ReservedConcurrentExecutions=30)
        # GetAccountSettings says the same: the roomy stack's 20 are counted as reserved.
        status, body = ask("lambda", method="GET", path="/2016-08-19/account-settings/")
        limit = json.loads(body)["AccountLimit"]
        self.assertEqual((limit["ConcurrentExecutions"], limit["UnreservedConcurrentExecutions"]), (10, -10))

    def test_a_retired_version_or_an_unoffered_class_or_node_is_refused(self):
        account.configure({"postgres_versions": {"16": {"16.6": "deprecated", "16.8": "available"}}})
        cases = [("16", "db.t4g.micro", "CREATE_COMPLETE", ""),
                 ("16.8", "db.t4g.micro", "CREATE_COMPLETE", ""),
                 ("16.6", "db.t4g.micro", "ROLLBACK_COMPLETE", "Cannot find version 16.6 for postgres"),
                 ("9", "db.t4g.micro", "ROLLBACK_COMPLETE", "Cannot find version 9 for postgres"),
                 ("16", "db.x9.huge", "ROLLBACK_COMPLETE", "does not support creating a DB instance")]
        for n, (version, klass, want, reason) in enumerate(cases):
            stack = f"db{n}"
            got = self.deploy(stack, DATABASE.format(version=version, klass=klass))["StackStatus"]
            self.assertEqual(got, want, (version, klass))
            self.assertIn(reason, self.reason(stack))
        account.configure({"cache_node_types": ["cache.t3.micro"]})
        self.assertEqual(self.deploy("c1", CACHE.format(node="cache.t3.micro"))["StackStatus"], "CREATE_COMPLETE")
        self.assertEqual(self.deploy("c2", CACHE.format(node="cache.t4g.micro"))["StackStatus"], "ROLLBACK_COMPLETE")
        self.assertIn("Invalid CacheNodeType", self.reason("c2"))

    def test_the_preflights_questions_are_answered_from_the_settings(self):
        account.configure({"postgres_versions": {"16": {"16.6": "deprecated", "16.8": "available"}}})
        form = b"Action=DescribeDBEngineVersions&Version=2014-10-31&Engine=postgres&EngineVersion=16&IncludeAll=true"
        status, body = ask("rds", body=form)
        self.assertIn("<EngineVersion>16.6</EngineVersion><DBParameterGroupFamily>postgres16</DBParameterGroupFamily><Status>deprecated</Status>", body)
        self.assertIn("<EngineVersion>16.8</EngineVersion>", body)
        self.assertNotIn("<EngineVersion>17", body)
        # DefaultOnly: the major's default alone, none when it is retired.
        status, body = ask("rds", body=form.replace(b"IncludeAll=true", b"DefaultOnly=true"))
        self.assertEqual(body.count("<DBEngineVersion>"), 1, body)
        self.assertIn("<EngineVersion>16.8</EngineVersion>", body)
        account.configure({"postgres_versions": {"16": {"16.6": "deprecated", "16.8": "deprecated"}}})
        status, body = ask("rds", body=form.replace(b"IncludeAll=true", b"DefaultOnly=true"))
        self.assertNotIn("<DBEngineVersion>", body)
        account.configure({"postgres_versions": {"16": {"16.6": "deprecated", "16.8": "available"}}})
        form = b"Action=DescribeOrderableDBInstanceOptions&Version=2014-10-31&Engine=postgres&DBInstanceClass=db.t4g.micro"
        status, body = ask("rds", body=form)
        self.assertIn("<DBInstanceClass>db.t4g.micro</DBInstanceClass>", body)
        self.assertIn("<Name>us-east-1b</Name>", body)
        self.assertNotIn("16.6", body, "a retired version is not orderable")
        form = b"Action=DescribeReservedCacheNodesOfferings&Version=2015-02-02&CacheNodeType=cache.x9.huge"
        status, body = ask("elasticache", body=form)
        self.assertNotIn("<ReservedCacheNodesOffering>", body)
        quota = json.dumps({"ServiceCode": "vpc", "QuotaCode": "L-F678F1CE"}).encode()
        status, body = ask("servicequotas", body=quota, target="ServiceQuotasV20190624.GetServiceQuota")
        self.assertEqual(json.loads(body)["Quota"]["Value"], 5.0)
        # What moto answers itself is left to it.
        self.assertIsNone(ask("rds", body=b"Action=DescribeDBInstances&Version=2014-10-31"))
        self.assertIsNone(ask("ec2", body=b"Action=DescribeVpcs&Version=2016-11-15"))
        with self.assertRaises(KeyError):
            account.configure({"lambda_quota": 5})
