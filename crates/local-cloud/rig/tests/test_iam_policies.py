"""stack/iam/: the least-privilege policies, read with placeholders substituted (as the sed in
stack/README.md does) and judged by a small IAM evaluator.

The evaluator is IAM's policy logic for what these files use, and no more: an explicit Deny wins,
an Allow is needed, otherwise the request is implicitly denied; a permissions boundary must allow
as well. Action/NotAction match with * and ? and no case; Resource/NotResource match an ARN
component by component (the first five never span a colon), with case. Conditions: every
operator must hold and every key in it (AND), any of a key's values may match (OR); a key missing
from the request fails a positive operator and satisfies a negated one (StringNotEquals,
ArnNotEquals, ...); ForAnyValue is false and ForAllValues true without the key; Null tests
presence. An operator, a statement element or a policy variable it does not know raises, so a
policy it cannot judge fails the test instead of being guessed at.

No moto: stdlib only, fast, part of crates/local-cloud/rig/test like the rest.
"""
import json
import re
import unittest
from pathlib import Path

IAM_DIR = Path(__file__).resolve().parents[4] / "stack" / "iam"
README = IAM_DIR.parent / "README.md"

FILES = {
    "content-role.json",
    "infrastructure-role.json",
    "cloudformation-service-role.json",
    "cloudformation-service-role-api.json",
    "cloudformation-service-role-data.json",
    "cloudformation-service-role-trust.json",
    "permissions-boundary.json",
}
PERMISSION_POLICIES = FILES - {"cloudformation-service-role-trust.json"}
SERVICE_ROLE_POLICIES = ("cloudformation-service-role.json", "cloudformation-service-role-api.json",
                         "cloudformation-service-role-data.json")
STACK_POLICY = "stack-policy.json"  # a CloudFormation stack policy, not an IAM policy
TEMPLATE = IAM_DIR.parent / "shipit.yaml"

REGION, ACCOUNT, STACK = "eu-west-1", "123456789012", "mysite"
ZONE, DB_USER = "Z0123456789ABCDEFGHIJ", "shipit_app"
PLACEHOLDERS = {"REGION": REGION, "ACCOUNT_ID": ACCOUNT, "STACK_NAME": STACK, "HOSTED_ZONE_ID": ZONE,
                "DB_USER": DB_USER}

STACK_ARN = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK}/4f1c2a30-0b5e-11ef-9d3b-0a1b2c3d4e5f"
OTHER_STACK_ARN = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/payroll/9a8b7c60-0b5e-11ef-9d3b-0a1b2c3d4e5f"
SERVICE_ROLE = f"arn:aws:iam::{ACCOUNT}:role/{STACK}-cloudformation"
BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/{STACK}-boundary"
FUNCTION_ROLE = f"arn:aws:iam::{ACCOUNT}:role/{STACK}-ApiFunctionRole-Q1W2E3R4T5Y6"
OTHER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/payroll-admin"
SITE = f"arn:aws:s3:::{STACK}-sitebucket-1a2b3c4d5e6f"
APP_DATA = f"arn:aws:s3:::{STACK}-appdatabucket-9z8y7x6w5v4u"
ARTIFACTS = f"arn:aws:s3:::{STACK}-artifactsbucket-5t4r3e2w1q0p"
PACKAGE = ARTIFACTS + "/api/" + "ab" * 32 + ".zip"
OTHER_BUCKET = "arn:aws:s3:::payroll-exports"
DISTRIBUTION = f"arn:aws:cloudfront::{ACCOUNT}:distribution/E2EXAMPLE0SITE"
FUNCTION = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{STACK}-ApiFunction-Z9X8C7V6B5N4"
OTHER_FUNCTION = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:payroll-run"
GATE = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{STACK}-PreTrafficGate-M1N2B3V4C5X6"
TABLE = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{STACK}-Table-A1S2D3F4G5H6"
SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:CacheAuthToken-AbCdEf"
MANAGED = "arn:aws:iam::aws:policy/service-role/"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
OURS = {"aws:ResourceTag/aws:cloudformation:stack-name": STACK}
NEW = {"aws:RequestTag/aws:cloudformation:stack-name": STACK}
# what Lambda adds to calls made with a function's execution-role credentials
# (https://docs.aws.amazon.com/lambda/latest/dg/permissions-source-function-arn.html)
FROM_FUNCTION = {"lambda:SourceFunctionArn": FUNCTION}

ALLOW, DENY, IMPLICIT = "Allow", "Deny", "ImplicitDeny"


# ---------------------------------------------------------------- the evaluator

class Unknown(ValueError):
    """A policy element, operator or value the evaluator will not guess about."""


STATEMENT_KEYS = {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}


def _listed(value):
    return value if isinstance(value, list) else [value]


def _wildcard(pattern, flags=0):
    if "${" in pattern:
        raise Unknown(f"policy variables are not evaluated: {pattern}")
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body + r"\Z", flags | re.DOTALL)


def action_matches(pattern, action):
    return bool(_wildcard(pattern, re.IGNORECASE).match(action))


def string_like(value, pattern):
    return bool(_wildcard(pattern).match(value))


def arn_matches(value, pattern):
    """ARN matching as IAM does it: six colon-separated components, each matched on its own
    (the sixth, the resource, may hold colons of its own); "*" alone matches anything."""
    if pattern == "*":
        return True
    want, have = pattern.split(":", 5), value.split(":", 5)
    if len(want) != 6:
        raise Unknown(f"not an ARN pattern: {pattern}")
    if len(have) != 6:
        return False
    return all(_wildcard(w).match(h) for w, h in zip(want, have))


def _bool_equals(value, pattern):
    if value.lower() not in ("true", "false") or str(pattern).lower() not in ("true", "false"):
        raise Unknown(f"Bool compares true or false, not {value!r} with {pattern!r}")
    return value.lower() == str(pattern).lower()


# operator -> (how one request value matches one policy value, negated)
SINGLE = {
    "StringEquals": (lambda v, p: v == p, False),
    "StringNotEquals": (lambda v, p: v == p, True),
    "StringLike": (string_like, False),
    "StringNotLike": (string_like, True),
    "ArnEquals": (arn_matches, False),
    "ArnLike": (arn_matches, False),
    "ArnNotEquals": (arn_matches, True),
    "ArnNotLike": (arn_matches, True),
    "Bool": (_bool_equals, False),
}
SET_BASES = {"StringEquals", "StringLike"}


def _lookup(context, key):
    """Condition keys are case-insensitive; a missing key is None."""
    found = [v for k, v in context.items() if k.lower() == key.lower()]
    return found[0] if found else None


def condition_holds(condition, context):
    for operator, keys in condition.items():
        if not isinstance(keys, dict):
            raise Unknown(f"{operator} takes a block of keys")
        for key, wanted in keys.items():
            if not _operator_holds(operator, key, _listed(wanted), _lookup(context, key)):
                return False
    return True


def _operator_holds(operator, key, wanted, have):
    if operator == "Null":
        if len(wanted) != 1 or str(wanted[0]).lower() not in ("true", "false"):
            raise Unknown(f"Null takes true or false for {key}")
        return (have is None) == (str(wanted[0]).lower() == "true")
    if ":" in operator:
        quantifier, base = operator.split(":", 1)
        if quantifier not in ("ForAnyValue", "ForAllValues") or base not in SET_BASES:
            raise Unknown(f"condition operator {operator}")
        match = SINGLE[base][0]
        if have is None:
            return quantifier == "ForAllValues"
        values = _listed(have)
        hits = [any(match(v, p) for p in wanted) for v in values]
        return any(hits) if quantifier == "ForAnyValue" else all(hits)
    if operator not in SINGLE:
        raise Unknown(f"condition operator {operator}")
    match, negated = SINGLE[operator]
    if have is None:
        return negated
    if isinstance(have, list):
        raise Unknown(f"{key} has several values: {operator} needs ForAnyValue or ForAllValues")
    hit = any(match(have, p) for p in wanted)
    return not hit if negated else hit


def check_statement(statement):
    """Raises Unknown for anything the evaluator does not model."""
    extra = set(statement) - STATEMENT_KEYS
    if extra:
        raise Unknown(f"statement element(s) {sorted(extra)} in {statement.get('Sid')}")
    if statement.get("Effect") not in (ALLOW, DENY):
        raise Unknown(f"Effect {statement.get('Effect')!r}")
    if ("Action" in statement) == ("NotAction" in statement):
        raise Unknown(f"{statement.get('Sid')}: exactly one of Action and NotAction")
    if ("Resource" in statement) == ("NotResource" in statement):
        raise Unknown(f"{statement.get('Sid')}: exactly one of Resource and NotResource")


def statement_applies(statement, action, resource, context):
    check_statement(statement)
    if "Action" in statement:
        if not any(action_matches(p, action) for p in _listed(statement["Action"])):
            return False
    elif any(action_matches(p, action) for p in _listed(statement["NotAction"])):
        return False
    if "Resource" in statement:
        if not any(arn_matches(resource, p) for p in _listed(statement["Resource"])):
            return False
    elif any(arn_matches(resource, p) for p in _listed(statement["NotResource"])):
        return False
    return condition_holds(statement.get("Condition", {}), context)


def decide(policies, action, resource, context=None, boundary=None):
    """Allow, Deny (explicit) or ImplicitDeny for one request by a principal holding these
    identity policies, under an optional permissions boundary."""
    context = context or {}

    def one(docs):
        effects = {s["Effect"] for d in docs for s in _listed(d["Statement"])
                   if statement_applies(s, action, resource, context)}
        return DENY if DENY in effects else ALLOW if ALLOW in effects else IMPLICIT

    identity = one(policies)
    fence = one([boundary]) if boundary is not None else ALLOW
    if DENY in (identity, fence):
        return DENY
    return ALLOW if identity == fence == ALLOW else IMPLICIT


# ---------------------------------------------------------------- the shipped files

def raw(name):
    return (IAM_DIR / name).read_text()


def load(name):
    """The file as `sed` in stack/README.md turns it into a policy for one stack."""
    text = raw(name)
    for placeholder, value in PLACEHOLDERS.items():
        text = text.replace(placeholder, value)
    return json.loads(text)


def statements(doc):
    return _listed(doc["Statement"])


class PolicyTest(unittest.TestCase):
    def check(self, policies, cases, boundary=None):
        for action, resource, context, expected, why in cases:
            with self.subTest(why, action=action, resource=resource):
                self.assertEqual(decide(policies, action, resource, context, boundary), expected, why)


class Evaluator(PolicyTest):
    """The evaluator decides cases whose answer IAM documents."""

    def test_an_explicit_deny_beats_an_allow(self):
        doc = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::b/*"}]}
        self.assertEqual(decide([doc], "s3:GetObject", "arn:aws:s3:::b/k"), ALLOW)
        self.assertEqual(decide([doc], "s3:DeleteObject", "arn:aws:s3:::b/k"), DENY)
        self.assertEqual(decide([doc, {"Statement": []}], "s3:DeleteObject", "arn:aws:s3:::b/k"), DENY)

    def test_nothing_matching_is_an_implicit_deny(self):
        doc = {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]}
        self.assertEqual(decide([doc], "s3:GetObject", "arn:aws:s3:::c/k"), IMPLICIT)
        self.assertEqual(decide([doc], "s3:PutObject", "arn:aws:s3:::b/k"), IMPLICIT)

    def test_actions_match_wildcards_without_case(self):
        self.assertTrue(action_matches("S3:get*", "s3:GetObject"))
        self.assertTrue(action_matches("iam:*AccessKey*", "iam:CreateAccessKey"))
        self.assertTrue(action_matches("s3:Get*Configuration", "s3:GetLifecycleConfiguration"))
        self.assertTrue(action_matches("s3:GetObject?ersion", "s3:GetObjectVersion"))
        self.assertFalse(action_matches("s3:Get*", "s3:PutObject"))
        self.assertFalse(action_matches("s3:GetObject", "s3:GetObjectVersion"))

    def test_arns_match_component_by_component_with_case(self):
        self.assertTrue(arn_matches("arn:aws:s3:::b-sitebucket-x/a/b.html", "arn:aws:s3:::b-sitebucket-*"))
        self.assertTrue(arn_matches("arn:aws:logs:r:1:log-group:g:log-stream:s", "arn:aws:logs:r:1:log-group:g*"))
        self.assertTrue(arn_matches(FUNCTION + ":live", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{STACK}-*"))
        self.assertFalse(arn_matches("arn:aws:s3:::B-sitebucket-x", "arn:aws:s3:::b-sitebucket-*"))
        # a * in the account component does not reach into the resource (a regex over the
        # whole ARN would say it does)
        self.assertTrue(arn_matches("arn:aws:iam::1:role/x", "arn:aws:iam::*:role/x"))
        self.assertFalse(arn_matches("arn:aws:iam::1:2:role/x", "arn:aws:iam::*:role/x"))
        self.assertFalse(arn_matches("arn:aws:iam::1:role/other", "arn:aws:iam::1:role/mysite-*"))

    def test_not_action_and_not_resource(self):
        doc = {"Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "NotAction": ["iam:Get*"], "Resource": "arn:aws:iam::1:role/x"},
            {"Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::mine*"}]}
        self.assertEqual(decide([doc], "iam:GetRole", "arn:aws:iam::1:role/x"), ALLOW)
        self.assertEqual(decide([doc], "iam:PutRolePolicy", "arn:aws:iam::1:role/x"), DENY)
        self.assertEqual(decide([doc], "s3:GetObject", "arn:aws:s3:::mine/k"), ALLOW)
        self.assertEqual(decide([doc], "s3:GetObject", "arn:aws:s3:::theirs/k"), DENY)

    def test_a_missing_key_fails_positive_and_satisfies_negated_operators(self):
        key = "cloudformation:RoleArn"
        self.assertFalse(condition_holds({"ArnEquals": {key: SERVICE_ROLE}}, {}))
        self.assertTrue(condition_holds({"ArnNotEquals": {key: SERVICE_ROLE}}, {}))
        self.assertTrue(condition_holds({"StringNotEquals": {key: SERVICE_ROLE}}, {}))
        self.assertTrue(condition_holds({"Null": {key: "true"}}, {}))
        self.assertFalse(condition_holds({"Null": {key: "false"}}, {}))
        self.assertTrue(condition_holds({"Null": {key: "false"}}, {key: SERVICE_ROLE}))
        self.assertFalse(condition_holds({"ForAnyValue:StringLike": {"k": "*"}}, {}))
        self.assertTrue(condition_holds({"ForAllValues:StringEquals": {"k": "a"}}, {}))

    def test_values_of_one_key_are_alternatives_and_operators_all_apply(self):
        cond = {"StringEquals": {"iam:PassedToService": ["lambda.amazonaws.com", "apigateway.amazonaws.com"]},
                "Bool": {"aws:SecureTransport": "true"}}
        ok = {"iam:PassedToService": "apigateway.amazonaws.com", "aws:SecureTransport": "true"}
        self.assertTrue(condition_holds(cond, ok))
        self.assertFalse(condition_holds(cond, {**ok, "aws:SecureTransport": "false"}))
        self.assertFalse(condition_holds(cond, {**ok, "iam:PassedToService": "ec2.amazonaws.com"}))
        self.assertTrue(condition_holds(cond, {"IAM:passedtoservice": "lambda.amazonaws.com",
                                               "aws:SecureTransport": "true"}))
        self.assertTrue(condition_holds({"ForAnyValue:StringEquals": {"k": ["a", "b"]}}, {"k": ["z", "b"]}))
        self.assertFalse(condition_holds({"ForAllValues:StringEquals": {"k": ["a"]}}, {"k": ["a", "b"]}))

    def test_what_it_does_not_know_is_refused_not_guessed(self):
        with self.assertRaises(Unknown):
            condition_holds({"NumericLessThan": {"k": "3"}}, {"k": "1"})
        with self.assertRaises(Unknown):
            condition_holds({"StringEqualsIfExists": {"k": "a"}}, {})
        with self.assertRaises(Unknown):
            condition_holds({"StringEquals": {"k": "a"}}, {"k": ["a", "b"]})
        with self.assertRaises(Unknown):
            decide([{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}]}],
                   "s3:GetObject", "arn:aws:s3:::b/k")
        with self.assertRaises(Unknown):
            arn_matches("arn:aws:s3:::b", "arn:aws:s3:::${aws:username}")

    def test_a_boundary_caps_what_the_identity_policies_allow(self):
        admin = {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        fence = {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
        nothing = {"Statement": []}
        self.assertEqual(decide([admin], "iam:CreateUser", "*", boundary=fence), IMPLICIT)
        self.assertEqual(decide([admin], "s3:GetObject", "arn:aws:s3:::b/k", boundary=fence), ALLOW)
        self.assertEqual(decide([nothing], "s3:GetObject", "arn:aws:s3:::b/k", boundary=fence), IMPLICIT)


class Files(unittest.TestCase):
    """Every file is a well-formed policy for one stack, within IAM's limits."""

    def test_the_directory_holds_these_files(self):
        self.assertEqual({p.name for p in IAM_DIR.iterdir()}, FILES | {STACK_POLICY})

    def test_json_version_and_known_statement_elements(self):
        for name in sorted(FILES):
            with self.subTest(name):
                doc = json.loads(raw(name))
                self.assertEqual(set(doc), {"Version", "Statement"})
                self.assertEqual(doc["Version"], "2012-10-17")
                self.assertTrue(statements(doc))
                sids = [s.get("Sid") for s in statements(doc)]
                self.assertEqual(len(sids), len(set(sids)), "Sids are unique")
                if name in PERMISSION_POLICIES:
                    for s in statements(doc):
                        check_statement(s)

    def test_only_the_placeholders(self):
        for name in sorted(FILES):
            with self.subTest(name):
                tokens = set(re.findall(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b|\bREGION\b", raw(name)))
                self.assertLessEqual(tokens, set(PLACEHOLDERS), "placeholders")
                self.assertFalse(set(re.findall(r"[A-Z_]{6,}", json.dumps(load(name)))) & set(PLACEHOLDERS))

    def test_no_statement_is_everything_on_everything(self):
        for name in sorted(PERMISSION_POLICIES):
            for s in statements(load(name)):
                actions = _listed(s.get("Action", []))
                with self.subTest(name, sid=s.get("Sid")):
                    self.assertFalse("*" in actions and "*" in _listed(s.get("Resource", [])))
                    if s["Effect"] == ALLOW:
                        self.assertNotIn("NotAction", s, "an Allow with NotAction grants the unnamed")
                        self.assertNotIn("*", actions)
                        whole = [a for a in actions if a.endswith(":*")]
                        self.assertFalse(whole and s["Resource"] == "*", f"{whole} on every resource")

    def test_actions_are_service_colon_name(self):
        for name in sorted(PERMISSION_POLICIES):
            for s in statements(load(name)):
                for a in _listed(s.get("Action", s.get("NotAction"))):
                    self.assertRegex(a, r"^[a-z0-9-]+:[A-Za-z*?]+$", f"{name} {s.get('Sid')}")

    def test_each_policy_fits_a_managed_policy(self):
        # IAM counts a managed policy's characters without white space: 6,144 at most; a role's
        # trust policy: 2,048 by default.
        for name in sorted(FILES):
            size = len(re.sub(r"\s", "", raw(name)))
            limit = 2048 if name.endswith("-trust.json") else 6144
            with self.subTest(name, size=size):
                self.assertLessEqual(size, limit)

    def test_the_service_role_trusts_cloudformation_alone(self):
        doc = load("cloudformation-service-role-trust.json")
        self.assertEqual({json.dumps(s["Principal"]) for s in statements(doc)},
                         {json.dumps({"Service": "cloudformation.amazonaws.com"})})
        self.assertEqual({s["Action"] for s in statements(doc)}, {"sts:AssumeRole"})

    def test_the_service_role_is_assumed_for_this_accounts_stacks_only(self):
        # aws:SourceAccount: refused when CloudFormation names another account; when the key is
        # absent the trust still holds (no AWS page found says CloudFormation sends it)
        def assume(context):
            effects = {s["Effect"] for s in statements(load("cloudformation-service-role-trust.json"))
                       if condition_holds(s.get("Condition", {}), context)}
            return DENY if DENY in effects else ALLOW if ALLOW in effects else IMPLICIT
        self.assertEqual(assume({"aws:SourceAccount": ACCOUNT}), ALLOW)
        self.assertEqual(assume({"aws:SourceAccount": "210987654321"}), DENY)
        self.assertEqual(assume({}), ALLOW)

    def test_the_stack_policy_guards_every_retained_resource(self):
        doc = json.loads(raw(STACK_POLICY))
        self.assertEqual(set(doc), {"Statement"})
        denied = {r.split("/", 1)[1] for s in doc["Statement"] if s["Effect"] == DENY
                  for r in _listed(s["Resource"])
                  if set(_listed(s["Action"])) >= {"Update:Replace", "Update:Delete"}}
        kept, name = set(), None
        for line in TEMPLATE.read_text().split("\nOutputs:")[0].splitlines():
            m = re.match(r"^  ([A-Za-z0-9]+):\s*$", line)
            if m:
                name = m.group(1)
            elif re.match(r"^    (DeletionPolicy|UpdateReplacePolicy): (Retain|Snapshot)\s*$", line):
                kept.add(name)
        self.assertTrue({"Database", "Table", "AppDataBucket", "UserPool", "AccessLogsBucket"} <= kept)
        self.assertEqual(kept - denied, set(), "every retained or snapshotted resource is in the stack policy")
        self.assertIn({"Effect": ALLOW, "Action": "Update:*", "Principal": "*", "Resource": "*"}, doc["Statement"])

    def test_the_readme_section_names_every_file(self):
        text = README.read_text()
        section = text.split("## Least-privilege IAM", 1)[1].split("\n## ", 1)[0]
        for name in sorted(FILES):
            with self.subTest(name):
                self.assertIn(name, section)
        for placeholder in PLACEHOLDERS:
            self.assertIn(f"s/{placeholder}/", section, "the sed substitutes every placeholder")


class ContentRole(PolicyTest):
    """Everyday deploys: sync, invalidate, shipit's records and lock, function code; never the
    stack, never app data, never IAM."""

    def setUp(self):
        self.policies = [load("content-role.json")]

    def test_deploys_an_unchanged_stack(self):
        self.check(self.policies, [
            ("cloudformation:DescribeStacks", STACK_ARN, {}, ALLOW, "reads the stack"),
            ("cloudformation:GetTemplate", STACK_ARN, {}, ALLOW, "compares the template"),
            ("cloudformation:ListStackResources", STACK_ARN, {}, ALLOW, "finds the buckets"),
            ("cloudformation:DescribeStackEvents", STACK_ARN, {}, ALLOW, "explains a failure"),
            ("s3:ListBucket", SITE, {}, ALLOW, "diffs the site"),
            ("s3:ListBucketVersions", SITE, {}, ALLOW, "rollback finds versions"),
            ("s3:PutObject", SITE + "/index.html", {}, ALLOW, "uploads"),
            ("s3:PutObject", SITE + "/.shipit/lock.json", {}, ALLOW, "takes the lock (conditional put)"),
            ("s3:PutObject", SITE + "/.shipit/releases/r1.json", {}, ALLOW, "records a release"),
            ("s3:GetObjectVersion", SITE + "/index.html", {}, ALLOW, "rollback reads a version"),
            ("s3:DeleteObject", SITE + "/old.js", {}, ALLOW, "prunes"),
            ("s3:AbortMultipartUpload", SITE + "/big.mp4", {}, ALLOW, "cleans a failed upload"),
            ("cloudfront:CreateInvalidation", DISTRIBUTION, OURS, ALLOW, "invalidates this stack's distribution"),
            ("cloudfront:GetInvalidation", DISTRIBUTION, OURS, ALLOW, "waits for it"),
        ])

    def test_reads_the_parameters_names_and_versions_never_their_values(self):
        path = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/shipit/{STACK}"
        self.check(self.policies, [
            ("ssm:GetParametersByPath", path, {}, ALLOW, "a container deploy lists them"),
            ("ssm:GetParameter", path + "/API_TOKEN", {}, IMPLICIT, "a value is the tasks'"),
            ("ssm:GetParameters", path + "/API_TOKEN", {}, IMPLICIT, "a value is the tasks'"),
            ("ssm:PutParameter", path + "/API_TOKEN", {}, IMPLICIT, "shipit params is a person's"),
            ("ssm:GetParametersByPath", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/shipit/other",
             {}, IMPLICIT, "another stack's"),
            # WithDecryption: SSM decrypts with the caller's kms:Decrypt, which the AWS managed
            # key aws/ssm grants every principal of the account through SSM: denied here.
            ("kms:Decrypt", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
             {"kms:ViaService": f"ssm.{REGION}.amazonaws.com"}, DENY, "no value, decrypted"),
        ])

    def test_cannot_change_the_stack(self):
        self.check(self.policies, [
            (a, STACK_ARN, {"cloudformation:RoleArn": SERVICE_ROLE}, IMPLICIT, "a stack change needs the infrastructure role")
            for a in ("cloudformation:CreateChangeSet", "cloudformation:ExecuteChangeSet",
                      "cloudformation:DeleteStack", "cloudformation:UpdateStack",
                      "cloudformation:UpdateTerminationProtection")])

    def test_cannot_touch_app_data_or_erase_versions(self):
        cases = [(a, APP_DATA + "/users/1.json", {}, IMPLICIT, "app data is out of reach")
                 for a in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion",
                           "s3:GetObjectVersion")]
        cases += [(a, APP_DATA, {}, IMPLICIT, "app-data bucket is out of reach")
                  for a in ("s3:ListBucket", "s3:ListBucketVersions", "s3:PutBucketPolicy",
                            "s3:PutLifecycleConfiguration", "s3:DeleteBucket")]
        cases += [("s3:DeleteObjectVersion", SITE + "/index.html", {}, IMPLICIT, "no version is erased"),
                  ("s3:PutBucketVersioning", SITE, {}, IMPLICIT, "versioning stays on"),
                  ("s3:PutObject", OTHER_BUCKET + "/x", {}, IMPLICIT, "another bucket")]
        self.check(self.policies, cases)

    def test_invalidates_only_this_stacks_distribution(self):
        self.check(self.policies, [
            ("cloudfront:CreateInvalidation", DISTRIBUTION,
             {"aws:ResourceTag/aws:cloudformation:stack-name": "payroll"}, IMPLICIT, "another stack's"),
            ("cloudfront:CreateInvalidation", DISTRIBUTION, {}, IMPLICIT, "an untagged distribution"),
            ("cloudfront:UpdateDistribution", DISTRIBUTION, OURS, IMPLICIT, "no configuration change"),
        ])

    def test_no_iam_at_all(self):
        self.check(self.policies, [
            (a, r, {"iam:PassedToService": "cloudformation.amazonaws.com"}, IMPLICIT, "no IAM")
            for a in ("iam:PassRole", "iam:CreateRole", "iam:PutRolePolicy", "iam:CreateUser",
                      "iam:CreateAccessKey", "iam:AttachRolePolicy")
            for r in (SERVICE_ROLE, FUNCTION_ROLE)])

    def test_cannot_set_the_stack_policy(self):
        self.check(self.policies, [
            ("cloudformation:SetStackPolicy", STACK_ARN, {}, IMPLICIT, "the stack policy is the administrator's"),
        ])

    def test_ships_code_but_only_the_gate_gives_a_version_traffic(self):
        self.check(self.policies, [
            ("lambda:UpdateFunctionCode", FUNCTION, {}, IMPLICIT, "code changes go through the stack"),
            ("lambda:PublishVersion", FUNCTION, {}, ALLOW, "publishes the code the stack set"),
            ("lambda:GetAlias", FUNCTION + ":live", {}, ALLOW, "reads where the traffic goes"),
            ("lambda:InvokeFunction", GATE, {}, ALLOW, "asks the gate to check a version and move live"),
            ("lambda:UpdateAlias", FUNCTION + ":live", {}, IMPLICIT,
             "cannot put on live a version that did not pass the gate's check"),
            ("lambda:InvokeFunction", FUNCTION + ":live", {}, IMPLICIT,
             "cannot invoke the API past API Gateway, its authorizer and its log, with an event of its own"),
            ("lambda:InvokeFunction", FUNCTION + ":7", {}, IMPLICIT, "nor any version"),
            ("lambda:InvokeFunction", FUNCTION + ":$LATEST", {}, IMPLICIT, "nor $LATEST"),
            ("lambda:InvokeFunction", FUNCTION, {}, IMPLICIT, "nor the unqualified function"),
            ("lambda:UpdateFunctionCode", GATE, {}, IMPLICIT, "the gate's code is the stack's"),
            ("lambda:UpdateFunctionCode", OTHER_FUNCTION, {}, IMPLICIT, "another function"),
            ("lambda:UpdateFunctionConfiguration", FUNCTION, {}, IMPLICIT, "not its role or settings"),
            ("lambda:InvokeFunction", OTHER_FUNCTION + ":1", {}, IMPLICIT, "another function"),
            ("lambda:AddPermission", FUNCTION, {"lambda:Principal": "*"}, IMPLICIT, "not its resource policy"),
        ])


IMPORT = {"cloudformation:RoleArn": SERVICE_ROLE, "cloudformation:ImportResourceTypes": ["AWS::S3::Bucket"]}


class InfrastructureRole(PolicyTest):
    """Stack changes, always as the service role; attached together with the content policy."""

    def setUp(self):
        self.infra = load("infrastructure-role.json")
        self.policies = [self.infra, load("content-role.json")]

    def test_changes_the_stack_only_as_the_service_role(self):
        role = {"cloudformation:RoleArn": SERVICE_ROLE}
        self.check(self.policies, [
            ("cloudformation:CreateChangeSet", STACK_ARN, role, ALLOW, "with the service role"),
            ("cloudformation:CreateChangeSet", STACK_ARN, {}, DENY, "without a role: the caller's own rights"),
            ("cloudformation:CreateChangeSet", STACK_ARN, {"cloudformation:RoleArn": OTHER_ROLE}, DENY,
             "with another role"),
            ("cloudformation:CreateChangeSet", OTHER_STACK_ARN, role, IMPLICIT, "another stack"),
            ("cloudformation:DeleteStack", STACK_ARN, role, ALLOW, "destroy as the service role"),
            ("cloudformation:DeleteStack", STACK_ARN, {}, DENY, "destroy without it"),
            ("cloudformation:UpdateStack", STACK_ARN, role, DENY, "shipit uses change sets only"),
            ("cloudformation:CreateStack", STACK_ARN, role, DENY, "shipit uses change sets only"),
            ("cloudformation:SetStackPolicy", STACK_ARN, {}, DENY, "the stack policy is the administrator's"),
            ("cloudformation:UpdateStack", STACK_ARN, {}, DENY, "never the caller's rights"),
            ("cloudformation:ExecuteChangeSet", STACK_ARN, {}, ALLOW,
             "ExecuteChangeSet carries no RoleArn: the change set's own role applies"),
            ("cloudformation:DescribeChangeSet", STACK_ARN, {}, ALLOW, "reads what it would do"),
            ("cloudformation:DeleteChangeSet", STACK_ARN, {}, ALLOW, "discards a refused change set"),
            ("cloudformation:UpdateTerminationProtection", STACK_ARN, {}, ALLOW, "create and destroy"),
        ])

    def test_stages_its_own_large_templates_for_cloudformation_to_read(self):
        # CloudFormation reads a TemplateURL with the caller's credentials (GetObject).
        bucket = "arn:aws:s3:::shipit-bootstrap-templatesbucket-1a2b3c"
        ours = {"s3:ResourceAccount": ACCOUNT}
        self.check(self.policies, [
            ("cloudformation:DescribeStacks",
             f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/shipit-bootstrap/abc", {}, ALLOW,
             "finds the templates bucket"),
            ("s3:PutObject", f"{bucket}/templates/{STACK}/ab12.yaml", ours, ALLOW, "stages its template"),
            ("s3:GetObject", f"{bucket}/templates/{STACK}/ab12.yaml", ours, ALLOW,
             "CloudFormation reads it as the caller"),
            ("s3:PutObject", f"{bucket}/templates/{STACK}/ab12.yaml", {"s3:ResourceAccount": "999999999999"},
             IMPLICIT, "a bucket of that name in another account"),
            ("s3:PutObject", f"{bucket}/templates/other/ab12.yaml", ours, IMPLICIT, "another stack's template"),
            ("s3:DeleteObject", f"{bucket}/templates/{STACK}/ab12.yaml", ours, IMPLICIT,
             "the bucket's lifecycle expires them"),
            ("cloudformation:CreateChangeSet",
             f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/shipit-bootstrap/abc",
             {"cloudformation:RoleArn": SERVICE_ROLE}, IMPLICIT, "never the bootstrap stack"),
        ])

    def test_the_preflight_reads_the_account_and_writes_nothing(self):
        # shipit's preflight (crates/aws/src/account.rs) before a stack change: read-only calls only.
        reads = ["lambda:GetAccountSettings", "rds:DescribeDBEngineVersions",
                 "rds:DescribeOrderableDBInstanceOptions",
                 "elasticache:DescribeReservedCacheNodesOfferings", "ec2:DescribeAvailabilityZones",
                 "ec2:DescribeVpcs", "ec2:DescribeAddresses", "ec2:DescribeNatGateways",
                 "ec2:DescribeSubnets", "servicequotas:GetServiceQuota",
                 "servicequotas:GetAWSDefaultServiceQuota", "cloudfront:ListDistributions",
                 "cloudfront:ListFunctions"]
        self.check(self.policies, [(a, "*", {}, ALLOW, "a preflight read") for a in reads] + [
            ("acm:DescribeCertificate", f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/abc", {}, ALLOW,
             "a certificate in us-east-1, for CloudFront"),
            ("route53:GetHostedZone", f"arn:aws:route53:::hostedzone/{ZONE}", {}, ALLOW, "the stack's zone"),
            ("route53:GetHostedZone", "arn:aws:route53:::hostedzone/ZOTHER", {}, IMPLICIT, "another zone"),
            ("apigateway:GET", f"arn:aws:apigateway:{REGION}::/account", {}, ALLOW, "the logging role setting"),
            ("apigateway:GET", f"arn:aws:apigateway:{REGION}::/restapis/other", {}, IMPLICIT, "another API"),
            ("rds:ModifyDBInstance", "*", {}, IMPLICIT, "the preflight writes nothing"),
            ("servicequotas:RequestServiceQuotaIncrease", "*", {}, IMPLICIT, "nor asks for quotas"),
        ])
        content = [load("content-role.json")]
        self.check(content, [("lambda:GetAccountSettings", "*", {}, IMPLICIT,
                              "an unchanged stack needs no preflight: the content role has none")])

    def test_no_import_change_sets(self):
        self.check(self.policies, [
            ("cloudformation:CreateChangeSet", STACK_ARN, IMPORT, DENY, "an IMPORT change set"),
            ("cloudformation:CreateChangeSet", OTHER_STACK_ARN, IMPORT, DENY, "on any stack"),
        ])

    def test_the_deny_statements_are_what_refuse(self):
        # the same requests with a Deny removed are allowed: these tests can fail
        for sid, request in (("NoImportChangeSets", IMPORT),
                             ("NeverTheCallersOwnPermissions", {"cloudformation:RoleArn": OTHER_ROLE})):
            with self.subTest(sid):
                infra = {**self.infra, "Statement": [s for s in statements(self.infra) if s["Sid"] != sid]}
                if sid == "NeverTheCallersOwnPermissions":  # an Allow that would let it through
                    infra["Statement"].append({"Effect": "Allow", "Action": "cloudformation:*", "Resource": STACK_ARN})
                self.assertEqual(decide([infra], "cloudformation:CreateChangeSet", STACK_ARN, request), ALLOW)

    def test_passes_the_service_role_to_cloudformation_only(self):
        self.check(self.policies, [
            ("iam:PassRole", SERVICE_ROLE, {"iam:PassedToService": "cloudformation.amazonaws.com"}, ALLOW, "to CFN"),
            ("iam:PassRole", SERVICE_ROLE, {"iam:PassedToService": "lambda.amazonaws.com"}, IMPLICIT, "to Lambda"),
            ("iam:PassRole", SERVICE_ROLE, {"iam:PassedToService": "ec2.amazonaws.com"}, IMPLICIT, "to EC2"),
            ("iam:PassRole", FUNCTION_ROLE, {"iam:PassedToService": "cloudformation.amazonaws.com"}, IMPLICIT,
             "another role"),
            ("iam:PassRole", OTHER_ROLE, {"iam:PassedToService": "cloudformation.amazonaws.com"}, IMPLICIT,
             "an admin role"),
        ])

    def test_no_iam_writes_and_app_data_stays(self):
        cases = [(a, r, {}, IMPLICIT, "no IAM writes")
                 for a in ("iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:CreateUser",
                           "iam:CreateAccessKey", "iam:UpdateAssumeRolePolicy")
                 for r in (SERVICE_ROLE, FUNCTION_ROLE)]
        cases += [("s3:DeleteObjectVersion", APP_DATA + "/users/1.json", {}, IMPLICIT, "app data stays"),
                  ("s3:ListBucketVersions", APP_DATA, {}, IMPLICIT, "app data stays"),
                  ("s3:DeleteObjectVersion", SITE + "/index.html", {}, ALLOW, "destroy empties the site bucket"),
                  ("s3:PutObject", SITE + "/index.html", {}, ALLOW, "a stack change is followed by a sync")]
        self.check(self.policies, cases)

    def test_ships_the_apis_packages_and_nothing_else_there(self):
        self.check(self.policies, [
            ("s3:ListBucket", ARTIFACTS, {}, ALLOW, "is the package there already"),
            ("s3:PutObject", PACKAGE, {}, ALLOW, "upload the package"),
            ("s3:PutObject", ARTIFACTS + "/other/x", {}, IMPLICIT, "only under api/"),
            ("s3:PutObject", f"arn:aws:s3:::other-artifactsbucket-x/api/p.zip", {}, IMPLICIT, "another stack's"),
            ("s3:DeleteObjectVersion", PACKAGE, {}, ALLOW, "destroy empties the artifacts bucket"),
            ("s3:PutObject", APP_DATA + "/api/p.zip", {}, IMPLICIT, "not the app data"),
        ])


class ServiceRole(PolicyTest):
    """What CloudFormation may do with the stack's templates: the stack's resources, and roles
    only under the boundary."""

    def setUp(self):
        self.policies = [load(name) for name in SERVICE_ROLE_POLICIES]

    def test_creates_stack_roles_only_under_the_boundary(self):
        b = {"iam:PermissionsBoundary": BOUNDARY}
        other = {"iam:PermissionsBoundary": f"arn:aws:iam::{ACCOUNT}:policy/payroll-boundary"}
        self.check(self.policies, [
            ("iam:CreateRole", FUNCTION_ROLE, b, ALLOW, "a stack role under the boundary"),
            ("iam:CreateRole", FUNCTION_ROLE, {}, DENY, "without a boundary"),
            ("iam:CreateRole", FUNCTION_ROLE, other, DENY, "under another boundary"),
            ("iam:CreateRole", OTHER_ROLE, b, IMPLICIT, "a name outside the stack"),
            ("iam:PutRolePolicy", FUNCTION_ROLE, b, ALLOW, "inline policy on a bounded role"),
            ("iam:PutRolePolicy", FUNCTION_ROLE, {}, IMPLICIT, "on a role without the boundary"),
            ("iam:UpdateAssumeRolePolicy", FUNCTION_ROLE, b, DENY, "trust is fixed at create"),
            ("iam:UpdateRole", FUNCTION_ROLE, b, ALLOW, "max session duration of a bounded role"),
            ("iam:UpdateRole", FUNCTION_ROLE, {}, IMPLICIT, "of a role without the boundary"),
            ("iam:PutRolePermissionsBoundary", FUNCTION_ROLE, b, ALLOW, "an older role gets the boundary"),
            ("iam:PutRolePermissionsBoundary", FUNCTION_ROLE, other, DENY, "the boundary is never swapped"),
            ("iam:DeleteRolePermissionsBoundary", FUNCTION_ROLE, b, DENY, "the boundary is never lifted"),
            ("iam:DeleteRole", FUNCTION_ROLE, b, ALLOW, "removes a stack role"),
        ])

    def test_attaches_only_the_templates_managed_policies(self):
        b = {"iam:PermissionsBoundary": BOUNDARY}
        self.check(self.policies, [
            ("iam:AttachRolePolicy", FUNCTION_ROLE, {**b, "iam:PolicyARN": MANAGED + "AWSLambdaVPCAccessExecutionRole"},
             ALLOW, "the VPC execution role"),
            ("iam:AttachRolePolicy", FUNCTION_ROLE, {**b, "iam:PolicyARN": ADMIN}, IMPLICIT, "AdministratorAccess"),
            ("iam:AttachRolePolicy", FUNCTION_ROLE,
             {**b, "iam:PolicyARN": MANAGED + "AmazonAPIGatewayPushToCloudWatchLogs"}, IMPLICIT,
             "API Gateway's logging policy: shipit bootstrap's role, not the stack's"),
            ("iam:AttachRolePolicy", FUNCTION_ROLE, {"iam:PolicyARN": MANAGED + "AWSLambdaBasicExecutionRole"},
             IMPLICIT, "to a role without the boundary"),
        ])

    def test_never_alters_itself_or_the_boundary_policy(self):
        b = {"iam:PermissionsBoundary": BOUNDARY}
        self.check(self.policies, [
            ("iam:PutRolePolicy", SERVICE_ROLE, b, DENY, "its own permissions"),
            ("iam:AttachRolePolicy", SERVICE_ROLE, {**b, "iam:PolicyARN": MANAGED + "AWSLambdaBasicExecutionRole"},
             DENY, "its own permissions"),
            ("iam:UpdateAssumeRolePolicy", SERVICE_ROLE, b, DENY, "its own trust"),
            ("iam:DeleteRole", SERVICE_ROLE, {}, DENY, "itself"),
            ("iam:PassRole", SERVICE_ROLE, {"iam:PassedToService": "lambda.amazonaws.com"}, DENY, "itself to Lambda"),
            ("iam:CreatePolicyVersion", BOUNDARY, {}, DENY, "a new boundary version"),
            ("iam:DeletePolicy", BOUNDARY, {}, DENY, "the boundary"),
            ("iam:SetDefaultPolicyVersion", BOUNDARY, {}, DENY, "an old boundary version"),
            ("iam:CreatePolicyVersion", f"arn:aws:iam::{ACCOUNT}:policy/{STACK}-cloudformation-api", {}, DENY,
             "its own managed policy"),
        ])

    def test_no_users_keys_groups_or_sign_in(self):
        user = f"arn:aws:iam::{ACCOUNT}:user/{STACK}-backdoor"
        self.check(self.policies, [
            (a, r, {"iam:PermissionsBoundary": BOUNDARY}, DENY, "no users or credentials")
            for a, r in (("iam:CreateUser", user), ("iam:CreateAccessKey", user), ("iam:CreateLoginProfile", user),
                         ("iam:AttachUserPolicy", user), ("iam:PutUserPolicy", user),
                         ("iam:AddUserToGroup", f"arn:aws:iam::{ACCOUNT}:group/admins"),
                         ("iam:UpdateAccessKey", user),
                         ("iam:CreateOpenIDConnectProvider", f"arn:aws:iam::{ACCOUNT}:oidc-provider/evil.example"),
                         ("iam:AddRoleToInstanceProfile", f"arn:aws:iam::{ACCOUNT}:instance-profile/{STACK}-x"))])

    def test_passes_stack_roles_to_lambda_and_ecs_tasks_only(self):
        self.check(self.policies, [
            ("iam:PassRole", FUNCTION_ROLE, {"iam:PassedToService": "lambda.amazonaws.com"}, ALLOW, "to Lambda"),
            ("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/{STACK}-TaskRole-x",
             {"iam:PassedToService": "ecs-tasks.amazonaws.com"}, ALLOW, "to the API's tasks"),
            ("iam:PassRole", FUNCTION_ROLE, {"iam:PassedToService": "ecs.amazonaws.com"}, IMPLICIT,
             "not to ECS itself: the service uses ECS's service-linked role"),
            ("iam:PassRole", FUNCTION_ROLE, {"iam:PassedToService": "apigateway.amazonaws.com"}, IMPLICIT,
             "API Gateway's logging role is shipit bootstrap's, not the stack's"),
            ("iam:PassRole", FUNCTION_ROLE, {"iam:PassedToService": "ec2.amazonaws.com"}, IMPLICIT, "to EC2"),
            ("iam:PassRole", FUNCTION_ROLE, {"iam:PassedToService": "cloudformation.amazonaws.com"}, IMPLICIT,
             "to CloudFormation"),
            ("iam:PassRole", OTHER_ROLE, {"iam:PassedToService": "lambda.amazonaws.com"}, IMPLICIT, "another role"),
        ])

    def test_service_linked_roles_of_the_template_only(self):
        slr = f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/x"
        self.check(self.policies, [
            ("iam:CreateServiceLinkedRole", slr, {"iam:AWSServiceName": "rds.amazonaws.com"}, ALLOW, "RDS"),
            ("iam:CreateServiceLinkedRole", slr, {"iam:AWSServiceName": "ops.apigateway.amazonaws.com"}, ALLOW,
             "API Gateway domains"),
            ("iam:CreateServiceLinkedRole", slr, {"iam:AWSServiceName": "ecs.amazonaws.com"}, ALLOW,
             "ECS, on the account's first cluster"),
            ("iam:CreateServiceLinkedRole", slr, {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}, ALLOW,
             "Elastic Load Balancing, on the account's first load balancer"),
            ("iam:CreateServiceLinkedRole", slr, {"iam:AWSServiceName": "organizations.amazonaws.com"}, IMPLICIT,
             "another service"),
        ])

    def test_builds_the_stacks_resources(self):
        self.check(self.policies, [
            ("s3:CreateBucket", SITE, {}, ALLOW, "the site bucket"),
            ("s3:PutBucketPolicy", APP_DATA, {}, ALLOW, "the app-data bucket's TLS policy"),
            ("s3:PutBucketAcl", f"arn:aws:s3:::{STACK}-accesslogsbucket-x", {}, ALLOW, "CloudFront logging"),
            ("cloudfront:CreateDistribution", DISTRIBUTION, {}, ALLOW, "the distribution"),
            ("cloudfront:CreateFunction", f"arn:aws:cloudfront::{ACCOUNT}:function/{STACK}-routing", {}, ALLOW,
             "the routing function"),
            ("ec2:CreateVpcEndpoint", f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc-endpoint/*", NEW, ALLOW, "endpoints"),
            ("rds:CreateDBInstance", f"arn:aws:rds:{REGION}:{ACCOUNT}:db:{STACK}-database-x", {}, ALLOW, "the database"),
            ("dynamodb:CreateTable", TABLE, {}, ALLOW, "the table"),
            ("lambda:CreateFunction", FUNCTION, {}, ALLOW, "the function"),
            ("lambda:AddPermission", FUNCTION, {"lambda:Principal": "apigateway.amazonaws.com"}, ALLOW,
             "API Gateway may invoke it"),
            ("apigateway:PATCH", f"arn:aws:apigateway:{REGION}::/account", {}, IMPLICIT,
             "the account-wide logging role is shipit bootstrap's (an administrator's), never a stack's"),
            ("apigateway:POST", f"arn:aws:apigateway:{REGION}::/restapis", NEW, ALLOW, "the REST API"),
            ("wafv2:CreateWebACL", f"arn:aws:wafv2:{REGION}:{ACCOUNT}:regional/webacl/{STACK}-api/1a2b", {}, ALLOW,
             "the API's web ACL (EnableWaf)"),
            ("wafv2:CreateWebACL", f"arn:aws:wafv2:us-east-1:{ACCOUNT}:global/webacl/{STACK}-site/1a2b", {}, ALLOW,
             "the site's web ACL (CloudFront scope)"),
            ("wafv2:DeleteWebACL", f"arn:aws:wafv2:{REGION}:{ACCOUNT}:regional/webacl/payroll-api/1a2b", {}, IMPLICIT,
             "another stack's web ACL"),
            ("wafv2:AssociateWebACL", f"arn:aws:apigateway:{REGION}::/restapis/a1b2/stages/live", {}, ALLOW,
             "the API's stage"),
            ("secretsmanager:GetSecretValue", SECRET, OURS, ALLOW, "resolves the cache token"),
            ("logs:CreateLogGroup", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{STACK}-ApiAccessLogs-x", {}, ALLOW,
             "log groups"),
        ])

    def test_never_reads_or_erases_data(self):
        self.check(self.policies, [
            ("s3:GetObject", APP_DATA + "/users/1.json", {}, IMPLICIT, "no object reads"),
            ("s3:DeleteObject", APP_DATA + "/users/1.json", {}, IMPLICIT, "no object deletes"),
            ("s3:DeleteObjectVersion", APP_DATA + "/users/1.json", {}, IMPLICIT, "no version erasure"),
            ("dynamodb:DeleteTable", TABLE, {}, DENY, "the table is never deleted"),
            ("dynamodb:Scan", TABLE, {}, IMPLICIT, "no item reads"),
            ("rds:DeleteDBSnapshot", f"arn:aws:rds:{REGION}:{ACCOUNT}:snapshot:x", {}, DENY, "snapshots stay"),
            ("cognito-idp:DeleteUserPool", f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/x", {}, DENY,
             "the users stay"),
            ("lambda:InvokeFunction", FUNCTION, {}, IMPLICIT, "runs no code"),
            ("lambda:AddPermission", FUNCTION, {"lambda:Principal": "*"}, IMPLICIT, "no public invoke"),
            ("secretsmanager:GetSecretValue", SECRET, {"aws:ResourceTag/aws:cloudformation:stack-name": "payroll"},
             IMPLICIT, "another stack's secret"),
            ("s3:PutBucketPolicy", OTHER_BUCKET, {}, IMPLICIT, "another bucket"),
            ("lambda:UpdateFunctionCode", OTHER_FUNCTION, {}, IMPLICIT, "another function"),
            ("s3:PutObject", PACKAGE, {}, IMPLICIT, "never writes a package"),
        ])

    def test_app_data_is_never_erased_or_shared_by_a_change_set(self):
        # the template's own create of the bucket and its TLS policy keeps working: versioning,
        # public access block and PutBucketPolicy have no condition key that tells on from off
        # or one policy from another (Service Authorization Reference for S3), so they stay
        self.check(self.policies, [
            (a, APP_DATA, {}, DENY, "app data bucket")
            for a in ("s3:DeleteBucket", "s3:PutLifecycleConfiguration", "s3:PutBucketAcl",
                      "s3:PutReplicationConfiguration", "s3:PutInventoryConfiguration", "s3:PutBucketLogging")
        ] + [
            ("s3:PutBucketPolicy", APP_DATA, {}, ALLOW, "the template creates its TLS-only policy"),
            ("s3:PutBucketVersioning", APP_DATA, {}, ALLOW, "create enables versioning; no key tells suspend"),
            ("s3:PutLifecycleConfiguration", SITE, {}, ALLOW, "the site bucket's noncurrent-version expiry"),
            ("rds:DeleteDBInstance", f"arn:aws:rds:{REGION}:{ACCOUNT}:db:mysite-database-x", {}, DENY,
             "no final-snapshot key exists: destroying the database is an administrator's act"),
            ("rds:ModifyDBInstance", f"arn:aws:rds:{REGION}:{ACCOUNT}:db:mysite-database-x", {}, ALLOW,
             "no key for BackupRetentionPeriod: retention 0 cannot be refused by IAM"),
            ("rds:StartDBInstanceAutomatedBackupsReplication", f"arn:aws:rds:{REGION}:{ACCOUNT}:db:x", {}, DENY,
             "backups copied to another region"),
            ("dynamodb:UpdateContinuousBackups", TABLE, {}, ALLOW,
             "create turns PITR on with it; no key tells on from off"),
            ("dynamodb:PutResourcePolicy", TABLE, {}, DENY, "a table policy could share the items"),
            ("secretsmanager:ReplicateSecretToRegions", SECRET, OURS, DENY, "the secret stays in the region"),
        ])

    def test_dns_changes_in_the_one_hosted_zone(self):
        self.check(self.policies, [
            ("route53:ChangeResourceRecordSets", f"arn:aws:route53:::hostedzone/{ZONE}", {}, ALLOW, "the stack's zone"),
            ("route53:ChangeResourceRecordSets", "arn:aws:route53:::hostedzone/ZOTHERZONE", {}, IMPLICIT,
             "another zone of the account"),
            ("route53:AssociateVPCWithHostedZone", f"arn:aws:route53:::hostedzone/{ZONE}", {}, IMPLICIT,
             "the template makes no private zone"),
        ])

    def test_api_gateway_and_network_writes_only_on_this_stacks_resources(self):
        rest = f"arn:aws:apigateway:{REGION}::/restapis/a1b2c3d4e5"
        theirs = {"aws:ResourceTag/aws:cloudformation:stack-name": "payroll"}
        vpc = f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/vpc-0a1b"
        self.check(self.policies, [
            ("apigateway:PATCH", rest + "/stages/live", OURS, ALLOW, "a stage of this stack's API (inherited tag)"),
            ("apigateway:DELETE", rest, theirs, IMPLICIT, "another stack's API"),
            ("apigateway:DELETE", rest, {}, IMPLICIT, "an untagged API"),
            ("apigateway:POST", f"arn:aws:apigateway:{REGION}::/restapis", {}, IMPLICIT, "an API without the stack tag"),
            ("apigateway:PATCH", f"arn:aws:apigateway:{REGION}::/account", {}, IMPLICIT, "the account-wide logging role"),
            ("ec2:CreateVpc", vpc, NEW, ALLOW, "a VPC carrying the stack tag"),
            ("ec2:CreateVpc", vpc, {}, IMPLICIT, "a VPC without it"),
            ("ec2:DeleteVpc", vpc, OURS, ALLOW, "this stack's VPC"),
            ("ec2:DeleteVpc", vpc, theirs, IMPLICIT, "another stack's VPC"),
            ("ec2:AuthorizeSecurityGroupIngress", f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/sg-1", theirs,
             IMPLICIT, "opening another stack's security group"),
            ("ec2:CreateTags", vpc, {"ec2:CreateAction": "CreateVpc"}, ALLOW, "tags at create"),
            ("ec2:CreateTags", vpc, theirs, IMPLICIT, "retagging another stack's VPC"),
        ])

    def test_lambda_reads_the_package_with_cloudformations_rights(self):
        self.check(self.policies, [
            ("s3:GetObject", PACKAGE, {}, ALLOW, "Lambda fetches the code as the caller"),
            ("s3:GetObject", ARTIFACTS + "/other", {}, IMPLICIT, "only packages"),
            ("s3:GetObject", SITE + "/index.html", {}, IMPLICIT, "not the site"),
        ])


class Boundary(PolicyTest):
    """The most any role of the stack can ever do."""

    def setUp(self):
        self.boundary = load("permissions-boundary.json")

    def test_allows_what_the_templates_roles_need(self):
        logs = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:"
        self.check([self.boundary], [
            ("xray:PutTraceSegments", "*", {}, ALLOW, "active tracing"),
            ("xray:PutTelemetryRecords", "*", {}, ALLOW, "active tracing"),
            ("ec2:CreateNetworkInterface", "*", {}, ALLOW, "a function in the VPC"),
            ("ec2:DescribeNetworkInterfaces", "*", {}, ALLOW, "a function in the VPC"),
            ("ec2:DeleteNetworkInterface", "*", {}, ALLOW, "a function in the VPC"),
            ("logs:PutLogEvents", logs + f"{STACK}-ApiFunctionLogs-x:log-stream:2026/01/01", {}, ALLOW, "function logs"),
            ("logs:CreateLogStream", logs + "API-Gateway-Execution-Logs_abc123/live", {}, IMPLICIT,
             "API Gateway's execution logs: shipit bootstrap's role writes them, no stack role"),
            ("dynamodb:GetItem", TABLE, FROM_FUNCTION, ALLOW, "items"),
            ("dynamodb:Query", TABLE + "/index/owner-index", FROM_FUNCTION, ALLOW, "items by owner"),
            ("s3:PutObject", APP_DATA + "/users/1.json", FROM_FUNCTION, ALLOW, "app data"),
            ("s3:ListBucket", APP_DATA, FROM_FUNCTION, ALLOW, "app data listing"),
            ("rds-db:connect", f"arn:aws:rds-db:{REGION}:{ACCOUNT}:dbuser:db-ABCDEFGHIJKL/shipit_app", FROM_FUNCTION, ALLOW,
             "IAM database authentication"),
            ("secretsmanager:GetSecretValue", SECRET, {**OURS, **FROM_FUNCTION}, ALLOW, "this stack's secret"),
            ("lambda:InvokeFunction", FUNCTION + ":7", {}, ALLOW, "the gate checks a version"),
            ("lambda:UpdateAlias", FUNCTION, {}, ALLOW, "the gate moves live"),
            ("lambda:InvokeFunction", OTHER_FUNCTION + ":1", {}, IMPLICIT, "another stack's function"),
            ("lambda:UpdateAlias", OTHER_FUNCTION, {}, IMPLICIT, "another stack's alias"),
            ("lambda:InvokeFunction", GATE, {}, IMPLICIT, "no stack role invokes the gate"),
            ("lambda:UpdateFunctionConfiguration", FUNCTION, {}, IMPLICIT, "nor reconfigures the API"),
        ])

    def test_denies_iam_and_erasure_and_everything_else(self):
        self.check([self.boundary], [
            ("iam:CreateUser", "*", {}, DENY, "no IAM"),
            ("iam:PassRole", FUNCTION_ROLE, {}, DENY, "no IAM"),
            ("iam:CreateAccessKey", f"arn:aws:iam::{ACCOUNT}:user/x", {}, DENY, "no IAM"),
            ("s3:DeleteObjectVersion", APP_DATA + "/users/1.json", {}, DENY, "no version erasure"),
            ("s3:PutLifecycleConfiguration", APP_DATA, {}, DENY, "no expiry rules"),
            ("dynamodb:DeleteTable", TABLE, {}, DENY, "the table stays"),
            ("s3:GetObject", SITE + "/index.html", FROM_FUNCTION, IMPLICIT, "not the site bucket"),
            ("s3:GetObject", OTHER_BUCKET + "/salaries.csv", FROM_FUNCTION, IMPLICIT, "not another bucket"),
            ("dynamodb:GetItem", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/payroll", FROM_FUNCTION, IMPLICIT, "another table"),
            ("logs:PutLogEvents", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:aws-cloudtrail-logs:log-stream:x", {},
             IMPLICIT, "no forged audit logs"),
            ("secretsmanager:GetSecretValue", f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:rds!db-1234", FROM_FUNCTION,
             IMPLICIT, "not the RDS master secret"),
            ("sts:AssumeRole", OTHER_ROLE, {}, IMPLICIT, "no other role"),
            ("cloudformation:CreateChangeSet", STACK_ARN, {}, IMPLICIT, "no stack changes"),
            ("lambda:UpdateFunctionCode", FUNCTION, {}, IMPLICIT, "no code changes"),
        ])

    def test_data_only_through_this_stacks_functions(self):
        # a role of the stack assumed from anywhere but this stack's functions (CreateRole takes
        # any trust policy, and IAM has no condition key on its content) reaches no data
        other = {"lambda:SourceFunctionArn": OTHER_FUNCTION}
        self.check([self.boundary], [
            ("s3:GetObject", APP_DATA + "/users/1.json", {}, DENY, "an outside session: no source function"),
            ("dynamodb:Scan", TABLE, {}, DENY, "an outside session"),
            ("secretsmanager:GetSecretValue", SECRET, OURS, DENY, "an outside session"),
            ("rds-db:connect", f"arn:aws:rds-db:{REGION}:{ACCOUNT}:dbuser:db-A/shipit_app", {}, DENY, "an outside session"),
            ("s3:GetObject", APP_DATA + "/users/1.json", other, DENY, "another stack's function"),
            ("s3:GetObject", APP_DATA + "/users/1.json", FROM_FUNCTION, ALLOW, "this stack's function"),
            ("rds-db:connect", f"arn:aws:rds-db:{REGION}:{ACCOUNT}:dbuser:db-A/shipit", FROM_FUNCTION, IMPLICIT,
             "never the master user"),
        ])

    def test_data_through_this_stacks_tasks_and_their_images_and_parameters(self):
        # ECS tasks carry no source function: their sessions are this stack's task roles
        # (aws:PrincipalArn is the role's ARN for an assumed role's session).
        task = {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/{STACK}-TaskRole-A1B2C3"}
        starter = {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/{STACK}-TaskExecutionRole-A1B2C3"}
        elsewhere = {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/other-TaskRole-A1B2C3"}
        param = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/shipit/{STACK}/"
        self.check([self.boundary], [
            ("dynamodb:GetItem", TABLE, task, ALLOW, "items, from this stack's task"),
            ("rds-db:connect", f"arn:aws:rds-db:{REGION}:{ACCOUNT}:dbuser:db-A/shipit_app", task, ALLOW,
             "IAM database authentication from a task"),
            ("secretsmanager:GetSecretValue", SECRET, {**OURS, **starter}, ALLOW,
             "ECS resolves the task's secret as the execution role"),
            ("dynamodb:GetItem", TABLE, elsewhere, DENY, "another stack's task role"),
            ("ecr:BatchGetImage", f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/team/api", {}, ALLOW, "the image"),
            ("ecr:PutImage", f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/team/api", {}, IMPLICIT,
             "a task never pushes an image"),
            ("ssm:GetParametersByPath", param.rstrip("/"), {}, ALLOW, "this stack's parameters"),
            ("ssm:GetParameters", param + "db-password", {}, ALLOW, "this stack's parameters"),
            ("ssm:GetParameter", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/shipit/other/db-password", {}, IMPLICIT,
             "another stack's parameters"),
            ("ssm:PutParameter", param + "db-password", {}, IMPLICIT, "a task never writes a parameter"),
        ])

    def test_a_role_with_administrator_access_is_still_capped(self):
        admin = {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        self.check([admin], [
            ("iam:CreateUser", "*", {}, DENY, "the boundary's Deny"),
            ("iam:AttachRolePolicy", FUNCTION_ROLE, {}, DENY, "the boundary's Deny"),
            ("s3:GetObject", OTHER_BUCKET + "/salaries.csv", FROM_FUNCTION, IMPLICIT, "outside the boundary"),
            ("ec2:RunInstances", "*", {}, IMPLICIT, "outside the boundary"),
            ("s3:GetObject", APP_DATA + "/users/1.json", FROM_FUNCTION, ALLOW, "inside both"),
        ], boundary=self.boundary)


if __name__ == "__main__":
    unittest.main()
