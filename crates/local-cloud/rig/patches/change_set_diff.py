"""Change sets that list what CloudFormation would change, with Replacement.

On AWS: a change set compares the stack's template and parameters with the new ones: a resource
is modified when its definition changed or it depends on a changed parameter (directly, through
${Name} in Fn::Sub, or through a Condition in Fn::If), resources come and go with their
Conditions evaluated under the old and new parameters, and each Modify says whether it replaces
the resource.
In moto: change sets ignore parameters (a parameter change shows no change), report a resource
without Properties as modified every time (it adds `Properties: {}` to what it stored), ignore
Conditions, and never say whether a Modify replaces the resource.
Executing one, moto updates a resource whose definition is unchanged only when it names a
changed parameter itself: one that depends on it through a Condition in Fn::If (an API method
whose integration a backend parameter picks) keeps what it was; a resource whose own Condition
turns true is made only if something reads it (security group rules never are), and one whose
Condition turns false is never deleted (a service's tasks would run on).
The patch: ChangeSet.diff is replaced by a diff of the old and new templates as above,
Replacement coming from the properties that force one (REPLACING, for the types that matter
most), and the execution's own diff (ResourceMap.build_resource_diff) also modifies the
resources that depend on a changed parameter through a Condition, adds those whose Condition
turned true and removes those whose Condition turned false.
"""
import json

from rig.moto_version import check


# Properties whose change replaces the resource ("Update requires: Replacement" in the
# CloudFormation reference), for the types where it matters most.
REPLACING = {
    "AWS::DynamoDB::Table": ["TableName", "KeySchema", "LocalSecondaryIndexes"],
    "AWS::RDS::DBInstance": ["DBInstanceIdentifier", "DBName", "Engine", "StorageEncrypted",
                             "KmsKeyId", "MasterUsername", "CharacterSetName",
                             "DBClusterIdentifier", "SourceDBInstanceIdentifier"],
    "AWS::RDS::DBCluster": ["DBClusterIdentifier", "Engine", "StorageEncrypted", "KmsKeyId",
                            "MasterUsername", "DatabaseName"],
    "AWS::S3::Bucket": ["BucketName", "ObjectLockEnabled"],
    "AWS::Cognito::UserPool": ["UsernameAttributes", "AliasAttributes", "Schema"],
    "AWS::EC2::VPC": ["CidrBlock", "InstanceTenancy"],
    "AWS::EC2::Subnet": ["CidrBlock", "AvailabilityZone", "VpcId"],
    "AWS::Lambda::Function": ["FunctionName"],
    "AWS::ElastiCache::ReplicationGroup": ["ReplicationGroupId", "Engine", "CacheSubnetGroupName"],
    "AWS::CloudFront::Function": ["Name"],
}


def _refs(node, out):
    """Names referenced by Ref, ${Name} in Fn::Sub, and Conditions named in Fn::If/Condition."""
    import re
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "Ref" and isinstance(v, str):
                out.add(v)
            elif k == "Fn::Sub":
                text = v[0] if isinstance(v, list) else v
                if isinstance(text, str):
                    out.update(n.split(".")[0] for n in re.findall(r"\$\{([^}!]+)\}", text))
                _refs(v[1] if isinstance(v, list) and len(v) > 1 else None, out)
            elif k == "Fn::If" and isinstance(v, list) and v:
                out.add(("condition", v[0]))
                _refs(v[1:], out)
            elif k == "Condition" and isinstance(v, str):
                out.add(("condition", v))
            else:
                _refs(v, out)
    elif isinstance(node, list):
        for item in node:
            _refs(item, out)
    return out


def _condition_params(conditions, name, seen=None):
    """The parameters a named Condition depends on."""
    seen = seen or set()
    if name in seen:
        return set()
    seen.add(name)
    params = set()
    for r in _refs(conditions.get(name), set()):
        if isinstance(r, tuple):
            params |= _condition_params(conditions, r[1], seen)
        else:
            params.add(r)
    return params


def _eval_condition(expr, conditions, params):
    if isinstance(expr, dict):
        if "Condition" in expr:
            return _eval_condition(conditions.get(expr["Condition"]), conditions, params)
        if "Fn::Equals" in expr:
            a, b = (_value(x, params) for x in expr["Fn::Equals"])
            return str(a) == str(b)
        if "Fn::Not" in expr:
            return not _eval_condition(expr["Fn::Not"][0], conditions, params)
        if "Fn::And" in expr:
            return all(_eval_condition(x, conditions, params) for x in expr["Fn::And"])
        if "Fn::Or" in expr:
            return any(_eval_condition(x, conditions, params) for x in expr["Fn::Or"])
    return bool(expr)


def _decidable(expr, conditions, seen=()):
    """Whether _eval_condition decides `expr` as CloudFormation would: Equals of Refs and
    literals, Not, And, Or and named Conditions, nothing else (an Fn::Select or FindInMap in a
    Condition is left to moto)."""
    if isinstance(expr, dict):
        if "Condition" in expr:
            name = expr["Condition"]
            return name not in seen and _decidable(conditions.get(name), conditions, seen + (name,))
        if "Fn::Equals" in expr:
            return all(not isinstance(x, (dict, list)) or (isinstance(x, dict) and set(x) == {"Ref"})
                       for x in expr["Fn::Equals"])
        for key in ("Fn::Not", "Fn::And", "Fn::Or"):
            if key in expr:
                return all(_decidable(x, conditions, seen) for x in expr[key])
        return False
    return isinstance(expr, bool)


def _value(x, params):
    if isinstance(x, dict) and "Ref" in x:
        return params.get(x["Ref"], "")
    return x


def _normalised(resource):
    r = dict(resource or {})
    if not r.get("Properties"):
        r.pop("Properties", None)
    return json.dumps(r, sort_keys=True, default=str)


def apply():
    """Check the moto version, then patch it as above (rig.install() calls this once)."""
    check(__name__)
    import copy

    from moto.cloudformation.models import Change, ChangeSet
    from moto.cloudformation.parsing import ResourceMap

    def params_of(template, given):
        values = {k: str(v.get("Default", "")) for k, v in (template.get("Parameters") or {}).items()}
        values.update({k: str(v) for k, v in (given or {}).items()})
        return values

    def diff(self):
        new = self.template_dict or {}
        if self.change_set_type == "CREATE" or not self.stack.template:
            old = {}
        else:
            old = copy.deepcopy(self.stack.parse_template(self.stack.template)) or {}
        old_params = params_of(old, getattr(self.stack, "parameters", {}))
        new_params = params_of(new, self.parameters)
        changed = {k for k in set(old_params) | set(new_params) if old_params.get(k) != new_params.get(k)}
        old_res, new_res = old.get("Resources") or {}, new.get("Resources") or {}
        old_cond, new_cond = old.get("Conditions") or {}, new.get("Conditions") or {}

        def active(res, name, conds, values):
            c = (res.get(name) or {}).get("Condition")
            return name in res and (c is None or _eval_condition({"Condition": c}, conds, values))

        def touches_changed(resource_json, conds):
            names = set()
            for r in _refs(resource_json, set()):
                names |= _condition_params(conds, r[1]) if isinstance(r, tuple) else {r}
            return bool(names & changed)

        changes = []
        for name in sorted(set(old_res) | set(new_res)):
            was = active(old_res, name, old_cond, old_params)
            now = active(new_res, name, new_cond, new_params)
            kind = (new_res.get(name) or old_res.get(name))["Type"]
            if now and not was:
                action = "Add"
            elif was and not now:
                action = "Remove"
            elif now and (_normalised(old_res[name]) != _normalised(new_res[name])
                          or touches_changed(new_res[name], new_cond)):
                action = "Modify"
            else:
                continue
            change = Change(action=action, logical_resource_id=name, resource_type=kind)
            if action == "Modify":
                before = (old_res[name].get("Properties") or {})
                after = (new_res[name].get("Properties") or {})
                replaces = any(
                    before.get(k) != after.get(k) or touches_changed(after.get(k), new_cond)
                    for k in REPLACING.get(kind, []))
                change.replacement = "True" if replaces else "False"
            changes.append(change)
        return changes

    ChangeSet.diff = diff
    original_build = ResourceMap.build_resource_diff

    def build_resource_diff(self, other_template, parameters=None):
        actions = original_build(self, other_template, parameters)
        if not parameters:
            return actions
        before = {k: str(v) for k, v in (self.input_parameters or {}).items()}
        changed = {k for k, v in parameters.items() if before.get(k) != str(v)}
        conditions = other_template.get("Conditions") or {}
        new_values = params_of(other_template, parameters)
        new_values.update({"AWS::Region": self._region_name, "AWS::AccountId": self._account_id,
                           "AWS::Partition": "aws",
                           "AWS::StackName": str(dict.get(self._parsed_resources,
                                                          "AWS::StackName", ""))})
        for name, resource in (other_template.get("Resources") or {}).items():
            own = resource.get("Condition")
            if own is None or name not in self._resource_json_map:
                continue
            if not _decidable({"Condition": own}, conditions):
                continue  # moto's own evaluation stands
            now = _eval_condition({"Condition": own}, conditions, new_values)
            made = dict.get(self._parsed_resources, name) is not None
            if not now:
                # Off now: never updated (moto would "update" it from its changed definition),
                # removed when it exists.
                for action in ("Add", "Modify"):
                    if name in actions[action]:
                        actions[action].remove(name)
                if made and name not in actions["Remove"]:
                    actions["Remove"].append(name)
                    self._rig_removed = getattr(self, "_rig_removed", []) + [name]
            elif not made:
                # On now, and never made: made, whatever moto listed it as.
                if name in actions["Modify"]:
                    actions["Modify"].remove(name)
                if name not in actions["Add"]:
                    actions["Add"].append(name)
        listed = {n for names in actions.values() for n in names}
        for name, resource in (other_template.get("Resources") or {}).items():
            # Only what exists (a resource whose own Condition turns true is made when read).
            if name in listed or name not in self._parsed_resources:
                continue
            through = set()
            for r in _refs(resource.get("Properties"), set()):
                if isinstance(r, tuple):
                    through |= _condition_params(conditions, r[1])
            if through & changed:
                actions["Modify"].append(name)
        return actions

    ResourceMap.build_resource_diff = build_resource_diff
    original_update = ResourceMap.update

    def update(self, template, parameters=None):
        try:
            return original_update(self, template, parameters)
        finally:
            # moto's update deletes a removed resource but keeps it in the map: one whose
            # Condition turns true again is made anew.
            for name in getattr(self, "_rig_removed", []):
                self._parsed_resources.pop(name, None)
            self._rig_removed = []

    ResourceMap.update = update
