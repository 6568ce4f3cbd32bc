"""`!GetAtt A.B.C` and `!Condition X` in YAML templates, read as CloudFormation reads them.

On AWS: the short form `!GetAtt A.B.C` is split at the first dot only (["A", "B.C"]: logical id
A, attribute B.C), and `!Condition X` is {"Condition": "X"}, a reference to another condition.
In moto: its YAML tag constructor splits at every dot and reads the second part, so
`Database.Endpoint.Address` and `Fn.FunctionMetadata.FunctionARN` break; and it reads
`!Condition X` as a function ({"Fn::Condition": "X"}), which moto's condition parser does not
know, so a condition built from other conditions was always false.
The patch: moto's YAML tag constructor is replaced, everywhere it was imported, by one that reads
those two tags as CloudFormation does and hands every other tag to moto's.
"""
from rig.moto_version import check


def apply():
    """Check the moto version, then patch it as above (rig.install() calls this once)."""
    check(__name__)
    import moto.cloudformation.models as cfm
    import moto.cloudformation.responses as cfr
    import moto.cloudformation.utils as cfu

    original = cfu.yaml_tag_constructor

    def constructor(loader, tag, node):
        if tag == "!GetAtt" and not isinstance(node.value, list):
            return {"Fn::GetAtt": node.value.split(".", 1)}
        if tag == "!Condition":
            # `!Condition X` is {"Condition": "X"}, not {"Fn::Condition": ...}: moto's
            # condition parser looks for the former, so nested conditions were always false.
            return {"Condition": node.value}
        return original(loader, tag, node)

    for module in (cfu, cfm, cfr):
        module.yaml_tag_constructor = constructor
