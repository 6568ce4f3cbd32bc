"""A template's Rules and parameter patterns: a change set that breaks one is refused.

On AWS: CloudFormation evaluates the template's Rules section against the parameter values when
a change set (or stack) is created, and refuses it with a ValidationError whose message is the
failed assertion's AssertDescription; nothing is made ("Template rules", CloudFormation User
Guide). A rule applies when its RuleCondition is true or absent; its functions are Fn::And,
Fn::Contains, Fn::EachMemberEquals, Fn::EachMemberIn, Fn::Equals, Fn::Not, Fn::Or, Fn::RefAll,
Fn::ValueOf, Fn::ValueOfAll and Ref.
A parameter value that does not match its AllowedPattern is refused the same way ("Parameter
'NAME' must match pattern PATTERN").
In moto: the Rules section is never read, nor AllowedPattern: such a change set is made and
runs.
The patch: wraps create_change_set: each given value is matched against its parameter's
AllowedPattern (Python's re, whole value), and the rules are evaluated with the change set's
parameters (moto has resolved previous values already) over the template's defaults; a broken
one is the ValidationError AWS sends. Fn::And, Fn::Or, Fn::Not, Fn::Equals, Fn::Contains and Ref are
evaluated; a rule using another function is refused as not reproduced, never guessed.
"""
import re

from rig.moto_version import check
from rig.patches.change_set_call import arguments


class NotReproduced(Exception):
    pass


def evaluate(expr, params):
    """The value of a rule expression; params: parameter (and pseudo parameter) -> value."""
    if isinstance(expr, (str, bool, int)):
        return expr
    if isinstance(expr, list):
        return [evaluate(e, params) for e in expr]
    if not isinstance(expr, dict) or len(expr) != 1:
        raise NotReproduced(f"a rule expression {expr!r}")
    (fn, arg), = expr.items()
    if fn == "Ref":
        if arg not in params:
            raise NotReproduced(f"a Ref to {arg}, which is not a parameter")
        return params[arg]
    args = arg if isinstance(arg, list) else [arg]
    if fn == "Fn::Equals":
        a, b = (evaluate(x, params) for x in args)
        return str(a) == str(b)
    if fn == "Fn::Not":
        return not evaluate(args[0], params)
    if fn == "Fn::And":
        return all(evaluate(x, params) for x in args)
    if fn == "Fn::Or":
        return any(evaluate(x, params) for x in args)
    if fn == "Fn::Contains":
        listed, value = evaluate(args[0], params), evaluate(args[1], params)
        return str(value) in [str(v) for v in listed]
    raise NotReproduced(f"{fn} in a rule")


def broken(template, params):
    """The AssertDescription of the first failed assertion of `template`'s Rules, or None."""
    for name, rule in (template.get("Rules") or {}).items():
        condition = rule.get("RuleCondition")
        if condition is not None and not evaluate(condition, params):
            continue
        for assertion in rule.get("Assertions") or []:
            if not evaluate(assertion["Assert"], params):
                return assertion.get("AssertDescription") or f"Template rule {name} failed"
    return None


def apply():
    """Check the moto version, then patch it as above (rig.install() calls this once)."""
    check(__name__)
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.models import CloudFormationBackend, Stack

    original = CloudFormationBackend.create_change_set

    def create_change_set(self, *args, **kwargs):
        given = arguments(args, kwargs)
        template = Stack.parse_template(given["template"]) if given.get("template") else {}
        declared = (template.get("Parameters") or {}) if isinstance(template, dict) else {}
        for name, value in (given.get("parameters") or {}).items():
            pattern = (declared.get(name) or {}).get("AllowedPattern")
            if pattern is not None and re.fullmatch(pattern, str(value)) is None:
                raise ValidationError(given.get("stack_name"),
                                      message=f"Parameter '{name}' must match pattern {pattern}")
        if isinstance(template, dict) and template.get("Rules"):
            params = {k: str((v or {}).get("Default", ""))
                      for k, v in (template.get("Parameters") or {}).items()}
            params.update({k: str(v) for k, v in (given.get("parameters") or {}).items()})
            params.update({"AWS::Region": self.region_name, "AWS::AccountId": self.account_id})
            try:
                why = broken(template, params)
            except NotReproduced as e:
                raise ValidationError(given.get("stack_name"),
                                      message=f"the local cloud does not evaluate {e}")
            if why:
                raise ValidationError(given.get("stack_name"), message=why)
        return original(self, *args, **kwargs)

    CloudFormationBackend.create_change_set = create_change_set
