"""patches/s3_policy.py: bucket policies evaluated with Principal and Condition."""
import json

from botocore.exceptions import ClientError

from rig.patches import s3_policy
from rig.tests.support import CloudTest

DISTRIBUTION = "arn:aws:cloudfront::123456789012:distribution/EDFDVBD6EXAMPLE"
OTHER_DISTRIBUTION = "arn:aws:cloudfront::123456789012:distribution/E2OTHER"
OAC_POLICY = {"Statement": [{
    "Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"},
    "Action": "s3:GetObject", "Resource": "arn:aws:s3:::site/*",
    "Condition": {"StringEquals": {"AWS:SourceArn": DISTRIBUTION}}}]}
TLS_ONLY = {"Statement": [{
    "Effect": "Deny", "Principal": "*", "Action": "s3:*",
    "Resource": ["arn:aws:s3:::site", "arn:aws:s3:::site/*"],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}


def cloudfront(source_arn):
    """CloudFront reading an origin for the distribution source_arn (OAC)."""
    return s3_policy.Context("service", service="cloudfront.amazonaws.com", source_arn=source_arn)


class S3Policy(CloudTest):
    def setUp(self):
        super().setUp()
        self.s3 = self.client("s3")
        self.s3.create_bucket(Bucket="site")
        self.s3.put_object(Bucket="site", Key="index.html", Body=b"<h1>hi</h1>")

    def get(self, ctx):
        """GetObject as ctx: the body, or the HTTP status of the error."""
        s3_policy.set_context(ctx)
        try:
            return self.s3.get_object(Bucket="site", Key="index.html")["Body"].read()
        except ClientError as e:
            return e.response["ResponseMetadata"]["HTTPStatusCode"]
        finally:
            s3_policy.set_context(None)

    def test_oac_policy_admits_only_its_distribution(self):
        self.s3.put_bucket_policy(Bucket="site", Policy=json.dumps(OAC_POLICY))
        self.assertEqual(self.get(cloudfront(DISTRIBUTION)), b"<h1>hi</h1>")
        self.assertEqual(self.get(cloudfront(OTHER_DISTRIBUTION)), 403)

    def test_tls_only_deny_spares_secure_requests(self):
        self.s3.put_bucket_policy(Bucket="site", Policy=json.dumps(TLS_ONLY))
        self.assertEqual(self.get(s3_policy.Context("account")), b"<h1>hi</h1>")
        self.assertEqual(self.get(s3_policy.Context("account", secure=False)), 403)

    def test_who_is_asking(self):
        signed = "AWS4-HMAC-SHA256 Credential={}/20260101/us-east-1/s3/aws4_request, Signature=x"
        ask = s3_policy.context_from_environ
        self.assertEqual(ask({}).kind, "anonymous")
        self.assertEqual(ask({"HTTP_AUTHORIZATION": signed.format("test")}).kind, "account")
        self.assertEqual(ask({"QUERY_STRING": "X-Amz-Signature=abc"}).kind, "account")
        oac = ask({"HTTP_AUTHORIZATION": signed.format("CLOUDFRONT"),
                   "HTTP_X_AMZ_SOURCE_ARN": DISTRIBUTION})
        self.assertEqual((oac.kind, oac.service, oac.source_arn),
                         ("service", "cloudfront.amazonaws.com", DISTRIBUTION))
        self.assertFalse(ask({"HTTP_X_SHIPIT_INSECURE_TRANSPORT": "1"}).secure)
