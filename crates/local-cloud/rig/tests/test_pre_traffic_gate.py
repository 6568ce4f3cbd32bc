"""stack/shipit.yaml's PreTrafficGate (its Code.ZipFile), the one way a version of the API's
function takes traffic: it invokes a version with its own GET /health event, never $LATEST or
an event the caller chose, and moves `live`, from where the caller read it, only after every
version but the live one answered 200, with the RevisionId it read. It answers any JSON. Lambda's client is a stand-in here that answers as the table
says; the integration tests run the gate in shipit's local runtime against the local cloud."""
import importlib.util
import io
import json
import os
import tempfile
import unittest
from unittest import mock

import yaml
from botocore.exceptions import ClientError

from rig.tests.test_api_handler import TEMPLATE, ZIPFILE_LIMIT, _CfnLoader
from rig.tests.test_iam_policies import (ACCOUNT, ALLOW, DENY, FUNCTION, IMPLICIT, OTHER_FUNCTION,
                                         REGION, PolicyTest, load)


def gate_code():
    template = yaml.load(TEMPLATE.read_text(), Loader=_CfnLoader)
    return template["Resources"]["PreTrafficGate"]["Properties"]["Code"]["ZipFile"]


class Lambda:
    """Lambda's client as the gate uses it: `answers` maps a version to what it answers (a dict
    is returned as the payload; ("Unhandled", text) is a failure); UpdateAlias refuses a stale
    RevisionId, as Lambda does."""

    def __init__(self, answers, live="1", weights=None):
        self.answers, self.calls = answers, []
        self.alias = {"FunctionVersion": live, "RevisionId": "rev-1",
                      "RoutingConfig": {"AdditionalVersionWeights": weights or {}}}

    def invoke(self, FunctionName, Qualifier, Payload):
        self.calls.append(("invoke", FunctionName, Qualifier, json.loads(Payload)))
        answer = self.answers[Qualifier]
        if isinstance(answer, tuple):
            return {"FunctionError": answer[0], "Payload": io.BytesIO(answer[1].encode())}
        return {"Payload": io.BytesIO(json.dumps(answer).encode())}

    def get_alias(self, FunctionName, Name):
        self.calls.append(("get_alias", FunctionName, Name))
        return json.loads(json.dumps(self.alias))

    def update_alias(self, **kwargs):
        self.calls.append(("update_alias", kwargs))
        if kwargs["RevisionId"] != self.alias["RevisionId"]:
            raise ClientError({"Error": {"Code": "PreconditionFailedException",
                                         "Message": "The Revision Id provided does not match"}},
                              "UpdateAlias")
        self.alias = {"FunctionVersion": kwargs["FunctionVersion"], "RevisionId": "rev-2",
                      "RoutingConfig": kwargs["RoutingConfig"]}


def routed(version, weights=None, was="1", was_weights=None):
    return {"route": {"version": version, "weights": weights or {},
                      "from": {"version": was, "weights": was_weights or {}}}}


OK = {"statusCode": 200, "body": "{}"}


def run(lam, request):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "index.py")
        with open(path, "w") as f:
            f.write(gate_code())
        spec = importlib.util.spec_from_file_location("gate", path)
        module = importlib.util.module_from_spec(spec)
        with mock.patch.dict(os.environ, {"API_FUNCTION": "api-fn"}), \
                mock.patch("boto3.client", return_value=lam):
            spec.loader.exec_module(module)
        return module.handler(request, None)


def gate_role_policy():
    """PreTrafficGateRole's policy for one stack: the template's short forms resolved as
    CloudFormation would for the function FUNCTION (test_iam_policies)."""
    template = yaml.load(TEMPLATE.read_text(), Loader=_CfnLoader)
    role = template["Resources"]["PreTrafficGateRole"]["Properties"]
    (policy,) = role["Policies"]
    values = {"ApiFunction.Arn": FUNCTION, "${ApiFunction.Arn}": FUNCTION, "ApiLiveAlias": FUNCTION + ":live",
              "PreTrafficGateLogs.Arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:gate-logs:*"}

    def resolve(value):
        if isinstance(value, list):
            return [resolve(v) for v in value]
        for name, arn in values.items():
            value = value.replace(name, arn) if name.startswith("$") else (arn if value == name else value)
        return value

    doc = policy["PolicyDocument"]
    for statement in doc["Statement"]:
        statement["Resource"] = resolve(statement["Resource"])
    return doc


class GateRole(PolicyTest):
    def test_the_gate_invokes_published_versions_and_moves_live_and_nothing_else(self):
        gate = [gate_role_policy()]
        boundary = load("permissions-boundary.json")
        self.check(gate, [
            ("lambda:InvokeFunction", FUNCTION + ":7", {}, ALLOW, "checks version 7"),
            ("lambda:GetAlias", FUNCTION, {}, ALLOW, "reads where live sends traffic"),
            ("lambda:UpdateAlias", FUNCTION + ":live", {}, ALLOW, "moves live"),
            ("lambda:InvokeFunction", FUNCTION + ":$LATEST", {}, DENY, "never $LATEST"),
            ("lambda:InvokeFunction", FUNCTION, {}, DENY, "never unqualified ($LATEST)"),
            ("lambda:InvokeFunction", OTHER_FUNCTION + ":1", {}, IMPLICIT, "another function"),
            ("lambda:UpdateAlias", OTHER_FUNCTION, {}, IMPLICIT, "another function's alias"),
            ("lambda:UpdateFunctionCode", FUNCTION, {}, IMPLICIT, "never the code"),
            ("lambda:CreateAlias", FUNCTION, {}, IMPLICIT, "no other alias"),
            ("lambda:AddPermission", FUNCTION, {}, IMPLICIT, "not who may invoke"),
        ], boundary=boundary)


class PreTrafficGate(unittest.TestCase):
    def test_fits_inline_code(self):
        self.assertLessEqual(len(gate_code()), ZIPFILE_LIMIT)

    def test_a_check_is_its_own_health_event_and_its_verdict(self):
        table = [
            (OK, True, None),
            ({"statusCode": "200", "body": ""}, True, None),
            ({"statusCode": 503, "body": "database down"}, False, "GET /health answered 503: database down"),
            ({"errorMessage": "boom"}, False, "not an API Gateway proxy response"),
            (["statusCode", 200], False, "not an API Gateway proxy response"),
            ({"statusCode": True}, False, "not an API Gateway proxy response"),
            ({"statusCode": 200, "body": {"x": 1}}, False, "not an API Gateway proxy response"),
            ({"statusCode": "\u00b2"}, False, "not an API Gateway proxy response"),
            ({"statusCode": "\u0662\u0660\u0660"}, False, "not an API Gateway proxy response"),
            ({"statusCode": "2" * 5000}, False, "not an API Gateway proxy response"),
            ({"statusCode": 200.0}, False, "not an API Gateway proxy response"),
            (("Unhandled", '{"errorType": "ImportError"}'), False, "the function failed (Unhandled)"),
        ]
        for answer, ok, why in table:
            with self.subTest(answer=answer):
                lam = Lambda({"7": answer})
                out = run(lam, {"check": "7"})
                self.assertEqual(out["ok"], ok, out)
                if why:
                    self.assertIn(why, out["why"])
                (_, function, qualifier, event), = lam.calls
                self.assertEqual((function, qualifier), ("api-fn", "7"))
                self.assertEqual((event["httpMethod"], event["path"]), ("GET", "/health"))
                self.assertNotIn("authorizer", event["requestContext"], "never a signed-in caller")

    def test_only_published_versions_are_invoked(self):
        for request in [{"check": "$LATEST"}, {"check": "live"}, {"check": 7}, {"check": "0"},
                        {"check": "7", "route": {}}, {}, [], "7",
                        routed("$LATEST"), routed("live"), routed("2", {"$LATEST": 0.1}),
                        routed("2", was="$LATEST"),
                        {"route": {"version": "2", "weights": [], "from": {"version": "1"}}},
                        {"route": {"version": "2"}},
                        {"route": "2"},
                        {"route": {"version": "2", "from": []}},
                        {"route": {"version": "2", "from": "1"}},
                        {"route": {"version": "2", "from": True}},
                        {"route": {"version": "2", "from": {"version": "1", "weights": {"3": 0}}}}]:
            with self.subTest(request=request):
                lam = Lambda({})
                out = run(lam, request)
                self.assertEqual((out["v"], out["ok"]), (1, False))
                self.assertEqual(lam.calls, [], "nothing invoked, nothing moved")

    def test_a_version_new_to_the_traffic_is_checked_before_the_alias_moves(self):
        lam = Lambda({"2": OK})
        self.assertEqual(run(lam, routed("2")), {"v": 1, "ok": True, "why": None})
        self.assertEqual([c[0] for c in lam.calls], ["get_alias", "invoke", "update_alias"])
        self.assertEqual(lam.calls[-1][1], {
            "FunctionName": "api-fn", "Name": "live", "FunctionVersion": "2",
            "RoutingConfig": {"AdditionalVersionWeights": {}}, "RevisionId": "rev-1"})

    def test_a_failing_version_moves_nothing(self):
        for request in [routed("2"), routed("1", {"2": 0.1})]:
            lam = Lambda({"2": {"statusCode": 500, "body": "no"}})
            out = run(lam, request)
            self.assertFalse(out["ok"])
            self.assertIn("version 2 did not pass its pre-traffic check", out["why"])
            self.assertNotIn("update_alias", [c[0] for c in lam.calls])

    def test_only_the_live_version_is_not_checked_again(self):
        # A failed canary is put back: the live version (1) needs no check.
        lam = Lambda({}, live="1", weights={"2": 0.1})
        self.assertTrue(run(lam, routed("1", was_weights={"2": 0.1}))["ok"])
        self.assertEqual([c[0] for c in lam.calls], ["get_alias", "update_alias"])
        # A canary's version takes all only after another check: its share proves nothing.
        lam = Lambda({"2": {"statusCode": 503, "body": "down"}}, live="1", weights={"2": 0.1})
        out = run(lam, routed("2", was_weights={"2": 0.1}))
        self.assertFalse(out["ok"])
        self.assertNotIn("update_alias", [c[0] for c in lam.calls])

    def test_the_alias_moves_only_from_where_the_deploy_read_it(self):
        for live, weights in [("3", {}), ("1", {"3": 0.5})]:
            lam = Lambda({"2": OK}, live=live, weights=weights)
            out = run(lam, routed("2"))
            self.assertFalse(out["ok"])
            self.assertIn("live moved since the deploy read it", out["why"])
            self.assertEqual([c[0] for c in lam.calls], ["get_alias"])

    def test_a_refusal_by_lambda_is_the_gates_fault_not_a_verdict(self):
        lam = Lambda({"2": OK})
        original = lam.get_alias

        def moved_meanwhile(**kwargs):
            answer = original(**kwargs)
            lam.alias["RevisionId"] = "rev-other"  # another writer, between read and write
            return answer
        lam.get_alias = moved_meanwhile
        out = run(lam, routed("2"))
        self.assertEqual((out["ok"], out.get("fault")), (False, "gate"))
        self.assertIn("(PreconditionFailedException) when calling the UpdateAlias operation", out["why"])
        self.assertEqual(lam.alias["FunctionVersion"], "1")

    def test_a_retried_move_that_already_landed_is_a_success(self):
        # Asked again after the move landed: nothing to do, nothing checked.
        lam = Lambda({}, live="2")
        self.assertTrue(run(lam, routed("2"))["ok"])
        self.assertEqual([c[0] for c in lam.calls], ["get_alias"])
        # The gate's own UpdateAlias retried after the first landed: refused, and fine.
        lam = Lambda({"2": OK})
        original = lam.update_alias

        def lands_then_fails(**kwargs):
            original(**kwargs)
            raise ClientError({"Error": {"Code": "ServiceException", "Message": "timeout"}},
                              "UpdateAlias")
        lam.update_alias = lands_then_fails
        self.assertTrue(run(lam, routed("2"))["ok"])
        self.assertEqual(lam.alias["FunctionVersion"], "2")

    def test_lambda_not_answering_is_the_gates_fault(self):
        from botocore.exceptions import ReadTimeoutError
        lam = Lambda({})

        def stalls(**kwargs):
            raise ReadTimeoutError(endpoint_url="https://lambda")
        lam.get_alias = stalls
        out = run(lam, routed("2"))
        self.assertEqual((out["v"], out["ok"], out.get("fault")), (1, False, "gate"))

    def test_a_canary_is_one_other_version_with_a_share(self):
        for weights in [{"2": 0}, {"2": 1}, {"2": "0.1"}, {"2": 0.1, "3": 0.1}, {"1": 0.1}]:
            with self.subTest(weights=weights):
                lam = Lambda({"2": OK, "3": OK})
                self.assertFalse(run(lam, routed("1", weights))["ok"])
                self.assertNotIn("update_alias", [c[0] for c in lam.calls])
        lam = Lambda({"2": OK})
        self.assertTrue(run(lam, routed("1", {"2": 0.1}))["ok"])
        self.assertEqual(lam.calls[-1][1]["RoutingConfig"], {"AdditionalVersionWeights": {"2": 0.1}})


if __name__ == "__main__":
    unittest.main()
