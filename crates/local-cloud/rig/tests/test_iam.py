"""iam.py: the identity-policy evaluation the patches and function_identity share, on plain
documents (no moto): Action/NotAction and Resource/NotResource matching, explicit Deny over
Allow, and a Condition that could change the answer refused rather than guessed at."""

import json
import unittest

from rig import iam


def doc(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


class Matching(unittest.TestCase):
    def test_actions_match_wildcards_without_case_and_not_action_inverts(self):
        for statement, action, named in [
            ({"Action": "s3:Get*"}, "s3:GetObject", True),
            ({"Action": ["S3:getobject"]}, "s3:GetObject", True),
            ({"Action": "s3:Get?bject"}, "s3:GetObject", True),
            ({"Action": "s3:Get"}, "s3:GetObject", False),
            ({"NotAction": "s3:Delete*"}, "s3:GetObject", True),
            ({"NotAction": "s3:*"}, "s3:GetObject", False),
            ({}, "s3:GetObject", False),  # neither: not a valid statement, names nothing
        ]:
            self.assertEqual(iam.names_action(statement, action), named, (statement, action))

    def test_resources_match_with_case_and_not_resource_inverts(self):
        arn = "arn:aws:s3:::Site/index.html"
        for statement, applies in [
            ({"Action": "*", "Resource": "arn:aws:s3:::Site/*"}, True),
            ({"Action": "*", "Resource": "arn:aws:s3:::site/*"}, False),
            ({"Action": "*", "NotResource": "arn:aws:s3:::Other/*"}, True),
            ({"Action": "*", "NotResource": ["arn:aws:s3:::Site/*"]}, False),
            ({"Action": "*"}, False),  # no Resource: applies to nothing
        ]:
            self.assertEqual(iam.applies(statement, "s3:GetObject", arn), applies, statement)

    def test_a_list_may_hold_the_none_cloudformation_leaves_for_no_value(self):
        self.assertEqual(iam.as_list(["a", None, "b"]), ["a", "b"])
        self.assertEqual(iam.as_list(None), [])
        self.assertEqual(iam.as_list("a"), ["a"])


class Deciding(unittest.TestCase):
    allow = {"Effect": "Allow", "Action": "xray:*", "Resource": "*"}
    deny = {"Effect": "Deny", "Action": "xray:PutTraceSegments", "Resource": "*"}

    def test_an_explicit_deny_wins_and_nothing_is_none(self):
        self.assertEqual(iam.decide([("p", doc(self.allow))], "xray:PutTraceSegments"), "allow")
        self.assertEqual(iam.decide([("p", doc(self.allow)), ("q", json.dumps(doc(self.deny)))],
                                    "xray:PutTraceSegments"), "deny")
        self.assertEqual(iam.decide([("p", doc(self.allow))], "s3:GetObject"), "none")

    def test_a_condition_that_could_change_the_answer_is_refused(self):
        conditional = {**self.allow, "Condition": {"Bool": {"aws:SecureTransport": "true"}}}
        with self.assertRaises(iam.CannotEvaluate) as e:
            iam.decide([("only", doc(conditional))], "xray:PutTraceSegments")
        self.assertIn("only", str(e.exception))
        # Another statement allows it anyway: the condition cannot change the answer.
        self.assertEqual(iam.decide([("c", doc(conditional)), ("p", doc(self.allow))],
                                    "xray:PutTraceSegments"), "allow")
        # A conditional Deny could take an Allow away: refused, naming its policy.
        conditional_deny = {**self.deny, "Condition": {"Bool": {"aws:ViaAWSService": "false"}}}
        with self.assertRaises(iam.CannotEvaluate) as e:
            iam.decide([("p", doc(self.allow)), ("guard", doc(conditional_deny))],
                       "xray:PutTraceSegments")
        self.assertIn("guard", str(e.exception))
        # An unconditional Deny decides whatever the conditional statements say.
        self.assertEqual(iam.decide([("d", doc(conditional_deny)), ("x", doc(self.deny))],
                                    "xray:PutTraceSegments"), "deny")


if __name__ == "__main__":
    unittest.main()
